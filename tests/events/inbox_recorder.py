"""An in-process stand-in for a consumer's ``POST /internal/inbox`` that records deliveries.

The real consumers of ``event.changed`` (bookings, search, analytics) are built in
parallel; this recorder plays their part on the wire so the events relay can be tested
end to end over HTTP. It checks the internal key, acknowledges every message and keeps
them in arrival order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class InboxRecorder:
    """Records every message delivered to it; ``fail_next`` makes it answer 500 n times."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.messages: list[dict[str, Any]] = []
        self.fail_next = 0
        self.failures = 0
        self.arrived = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/internal/inbox", self._inbox)
        return app

    async def _inbox(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Internal-Key") != self.api_key:
            return web.json_response({"status": 401}, status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            self.failures += 1
            return web.json_response({"status": 500, "code": "internal_error"}, status=500)
        batch = await request.json()
        self.messages.extend(batch["messages"])
        self.arrived.set()
        return web.json_response({"acknowledged": [m["id"] for m in batch["messages"]]})

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``count`` messages arrived (bounded), then return them all."""
        async with asyncio.timeout(timeout_s):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages
