"""The local gateway: forwards public paths to the services, like the Ingress does.

It serves ``/healthz``, ``/readyz`` (all services ready), ``/metrics`` (this process)
and ``/openapi.json`` (the merged public document) itself; everything else is routed
by the routing table, and anything not public (including ``/internal/*``) is a 404.
A request is routed and forwarded on one and the same path: the canonical one the
middleware accepted (``core/paths.py``), re-encoded, never the raw path as sent.
Responses stream through, so server-sent events work; a request for an event stream
(``Accept: text/event-stream``) is relayed byte for byte (``event_streams.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from evently.core import parser_errors
from evently.core.api import json_response
from evently.core.disconnects import DISCONNECTS, disconnect_watch_context
from evently.core.errors import NotFound, ServiceUnavailable
from evently.core.health import OPENAPI, SHUTTING_DOWN
from evently.core.metrics import metrics_handler
from evently.core.middleware import (
    CANONICAL_PATH,
    MIDDLEWARES,
    REQUEST_ID,
    RESPONSE_HEADERS,
    SERVICE_NAME,
    add_response_headers,
)
from evently.core.paths import encoded_path
from evently.core.response_headers import Cors
from evently.gateway.event_streams import relay_event_stream, wants_event_stream
from evently.gateway.routing import service_for

log = logging.getLogger("evently.gateway")
UPSTREAMS: web.AppKey[dict[str, str]] = web.AppKey("upstreams", dict)
CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("client", aiohttp.ClientSession)
# Hop-by-hop headers are never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


# aiohttp's server decodes a compressed request body as it reads it, so the body the
# gateway forwards is plain: its Content-Encoding no longer describes it.
DECODED_BY_THE_SERVER = {"content-encoding"}


def _forward_headers(request: web.Request) -> dict[str, str]:
    dropped = HOP_BY_HOP | DECODED_BY_THE_SERVER
    headers = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
    peer = request.remote or ""
    previous = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    headers["X-Request-ID"] = request[REQUEST_ID]
    return headers


async def forward(request: web.Request) -> web.StreamResponse:
    """Proxy one request to the service the routing table names."""
    path = request[CANONICAL_PATH]
    service = service_for(path)
    if service is None:
        raise NotFound(f"No resource at {path}")
    upstream = URL(request.app[UPSTREAMS][service])
    target = URL.build(
        scheme=upstream.scheme,
        host=upstream.raw_host or "",
        port=upstream.explicit_port,
        path=encoded_path(path),
        query_string=request.rel_url.raw_query_string,
        encoded=True,
    )
    if wants_event_stream(request):
        try:
            return await relay_event_stream(request, target, _forward_headers(request), HOP_BY_HOP)
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"The {service} service is unreachable", code="upstream_unavailable"
            ) from exc
    body = await request.read() if request.body_exists else None
    try:
        upstream_response = await request.app[CLIENT].request(
            request.method,
            target,
            headers=_forward_headers(request),
            data=body,
            allow_redirects=False,
        )
    except aiohttp.ClientError as exc:
        raise ServiceUnavailable(
            f"The {service} service is unreachable", code="upstream_unavailable"
        ) from exc
    async with upstream_response:
        headers = {
            k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP
        }
        if upstream_response.content_length is not None:
            payload = await upstream_response.read()
            return web.Response(status=upstream_response.status, body=payload, headers=headers)
        response = web.StreamResponse(status=upstream_response.status, headers=headers)
        add_response_headers(request, response)
        await response.prepare(request)
        await _relay_stream(request, upstream_response, response)
        return response


async def _relay_stream(
    request: web.Request, upstream: aiohttp.ClientResponse, response: web.StreamResponse
) -> None:
    """Copy a streamed body until it ends or the client leaves.

    A client closing an event stream is normal, not an error: the copy stops, the
    upstream connection is released at once (so the service frees the subscription),
    and the request is logged and counted with the status it was answered with.
    """
    disconnects = request.app[DISCONNECTS]
    gone = disconnects.watch(request)

    async def copy() -> None:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()

    copying = asyncio.ensure_future(copy())
    leaving = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait([copying, leaving], return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnects.unwatch(request)
        leaving.cancel()
        if not copying.done():
            copying.cancel()
            upstream.close()
        try:
            await copying
        except (asyncio.CancelledError, ConnectionResetError):
            pass  # we stopped it, or the client left between two checks
        except aiohttp.ClientError as exc:
            log.warning("the upstream stream of %s broke: %s", request.path, exc)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when every upstream service reports ready."""
    if request.app[SHUTTING_DOWN].is_set():
        return json_response({"status": "shutting down", "checks": {}}, status=503)
    client = request.app[CLIENT]

    async def check(name: str, url: str) -> tuple[str, str]:
        try:
            async with client.get(url + "/readyz", timeout=aiohttp.ClientTimeout(total=3)) as r:
                return name, "ok" if r.status == 200 else f"not ready ({r.status})"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return name, f"unreachable: {type(exc).__name__}"

    results = dict(await asyncio.gather(*(check(n, u) for n, u in request.app[UPSTREAMS].items())))
    ready = all(v == "ok" for v in results.values())
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": results},
        status=200 if ready else 503,
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


async def _client_context(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, auto_decompress=False
    ) as session:
        app[CLIENT] = session
        yield


def create_gateway(
    upstreams: Mapping[str, str], merged_openapi: dict[str, Any], max_body: int
) -> web.Application:
    """The gateway app forwarding to ``upstreams`` (service name -> base URL)."""
    parser_errors.install()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=max_body)
    # CORS is the services' own (the Ingress reaches them directly): the gateway forwards
    # preflight requests and their answers like any other, and adds only the security
    # headers (a policy that allows no origin).
    app[RESPONSE_HEADERS] = Cors(())
    app[SERVICE_NAME] = "gateway"
    app[UPSTREAMS] = dict(upstreams)
    app[OPENAPI] = merged_openapi
    app[SHUTTING_DOWN] = asyncio.Event()
    app.cleanup_ctx.append(_client_context)
    app.cleanup_ctx.append(disconnect_watch_context)

    async def mark(app_: web.Application) -> None:
        app_[SHUTTING_DOWN].set()

    app.on_shutdown.append(mark)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
