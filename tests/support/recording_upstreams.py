"""The gateway in front of recording upstreams, one per service.

Each upstream answers every path (``/internal/*`` and ``/metrics`` included) with 200
and records what it was sent, so a test sees exactly what the gateway forwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from evently.gateway.proxy import create_gateway
from evently.services import SERVICE_NAMES


@dataclass(frozen=True)
class Forwarded:
    """One request as an upstream received it."""

    service: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingGateway:
    port: int
    seen: list[Forwarded] = field(default_factory=list)

    @property
    def paths(self) -> list[tuple[str, str]]:
        return [(f.service, f.raw_path) for f in self.seen]


def _recording_upstream(name: str, seen: list[Forwarded]) -> web.Application:
    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(Forwarded(name, request.raw_path, dict(request.headers), body))
        return web.json_response({"service": name, "raw_path": request.raw_path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    return app


async def start_recording_gateway(aiohttp_server: Any) -> RecordingGateway:
    """Start one recording upstream per service and the gateway in front of them."""
    seen: list[Forwarded] = []
    upstreams = {}
    for name in SERVICE_NAMES:
        server = await aiohttp_server(_recording_upstream(name, seen))
        upstreams[name] = str(server.make_url("/")).rstrip("/")
    gateway = await aiohttp_server(create_gateway(upstreams, {}, max_body=1 << 20))
    return RecordingGateway(gateway.port, seen)
