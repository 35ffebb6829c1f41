"""Calling other services' ``/internal`` APIs: one shared aiohttp session per app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from evently.core.errors import ServiceUnavailable
from evently.core.logs import request_id_var

HTTP_SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("http_session", aiohttp.ClientSession)
INTERNAL_KEY_HEADER = "X-Internal-Key"


async def http_session_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` owning ``app[HTTP_SESSION]`` with bounded timeouts."""
    timeout = aiohttp.ClientTimeout(total=5, connect=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[HTTP_SESSION] = session
        yield


class InternalClient:
    """A small JSON client for one service's internal API."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_key: str, service: str
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.service = service

    def _headers(self) -> dict[str, str]:
        headers = {INTERNAL_KEY_HEADER: self.api_key}
        request_id = request_id_var.get()
        if request_id:
            headers["X-Request-ID"] = request_id
        return headers

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send a request; returns ``(status, json)``, with ``None`` for a body that is
        not JSON (the caller judges the status). Network failure is a 503."""
        try:
            async with self.session.request(
                method, self.base_url + path, headers=self._headers(), **kwargs
            ) as response:
                raw = await response.read()
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = None
                return response.status, data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"The {self.service} service is unreachable; try again shortly.",
                code=f"{self.service}_unavailable",
                headers={"Retry-After": "2"},
            ) from exc

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("POST", path, **kwargs)
