"""A small async client for the Kubernetes API calls kopf does not make for us.

kopf watches and patches Event resources itself. The operator also reads and patches
Deployments' scale subresources and HPAs, and creates its peering objects; it does so
with the same credentials kopf uses (``login``: in-cluster service account, else the
kubeconfig), re-reading them once if the server answers 401 (rotated tokens).
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import kopf

MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP status."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        super().__init__(f"{method} {path}: {status} {message}")


def login(settings: kopf.OperatorSettings | None = None, **_: Any) -> kopf.ConnectionInfo:
    """The credentials kopf and this client share: service account, else kubeconfig."""
    settings = settings or kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no kubeconfig (KUBECONFIG)")
    return info


def _data(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return raw if raw.lstrip().startswith(b"-----") else base64.b64decode(raw)


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=str(info.ca_path))
    if info.ca_data:
        context.load_verify_locations(cadata=_data(info.ca_data).decode())
    if info.certificate_data or info.private_key_data:
        # ssl only loads client certificates from files: a private one, removed at once.
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as handle:
            handle.write(_data(info.certificate_data or b""))
            handle.write(b"\n" + _data(info.private_key_data or b""))
            handle.flush()
            context.load_cert_chain(handle.name)
    elif info.certificate_path:
        key = info.private_key_path
        context.load_cert_chain(str(info.certificate_path), str(key) if key else None)
    return context


def _headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if info.token:
        headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
    elif info.username and info.password:
        basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    return headers


@dataclass
class KubeApi:
    """JSON requests against one API server; ``close()`` when done."""

    info: kopf.ConnectionInfo
    session: aiohttp.ClientSession = field(init=False)
    # Answers that never change while the server runs (e.g. API discovery).
    cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._connect(self.info)

    def _connect(self, info: kopf.ConnectionInfo) -> None:
        self.info = info
        self.server = info.server.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=_ssl_context(info)),
            headers=_headers(info),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """The decoded JSON answer; ``None`` for 404; ``KubeApiError`` for other failures."""
        for attempt in range(2):
            async with self.session.request(
                method,
                self.server + path,
                json=body,
                headers={"Content-Type": content_type} if body is not None else None,
            ) as response:
                if response.status == 401 and attempt == 0:
                    await self.session.close()
                    self._connect(login())
                    continue
                if response.status == 404:
                    return None
                if response.status >= 400:
                    text = await response.text()
                    raise KubeApiError(response.status, method, path, text[:500])
                return await response.json(content_type=None)
        raise AssertionError("unreachable")

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def merge_patch(self, path: str, body: dict[str, Any]) -> Any:
        return await self.request("PATCH", path, body, MERGE_PATCH)

    async def create(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body``; an existing object (409) is not an error and returns None."""
        try:
            return await self.request("POST", path, body)
        except KubeApiError as exc:
            if exc.status == 409:
                return None
            raise
