"""A client closing an event stream through the gateway is normal, not a 500."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from evently.core.metrics import HTTP_REQUESTS
from evently.gateway.proxy import create_gateway
from evently.services import SERVICE_NAMES
from tests.bookings.conftest import eventually
from tests.hardening.test_response_headers import assert_security_headers
from tests.support.platform import free_port
from tests.support.served import served

STREAM = "/api/v1/events/1/availability/stream"


def gateway_requests(status: str) -> float:
    return HTTP_REQUESTS.labels("gateway", "GET", "/{tail}", status)._value.get()


async def test_closing_a_stream_frees_the_upstream_and_is_no_error(aiohttp_server, caplog):
    released = asyncio.Event()

    async def endless_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: availability\ndata: {}\n\n")
        try:
            await asyncio.sleep(3600)  # a heartbeat far beyond this test's life
        finally:
            released.set()  # the gateway closed its upstream connection
        return response

    upstream = web.Application()
    upstream.router.add_get(STREAM, endless_stream)
    upstream_server = await aiohttp_server(upstream)  # cancels its handler on disconnect
    url = str(upstream_server.make_url("")).rstrip("/")
    gateway = create_gateway(dict.fromkeys(SERVICE_NAMES, url), {}, max_body=1 << 20)
    failures_before = gateway_requests("500")
    caplog.set_level(logging.INFO)

    async with served(gateway) as (base,), aiohttp.ClientSession() as session:
        response = await session.get(base + STREAM)
        assert response.status == 200
        assert_security_headers(response.headers)  # the gateway's own, on a stream too
        assert (await response.content.readline()).startswith(b"event: availability")
        response.close()

        async def upstream_released() -> bool:
            return released.is_set()

        await eventually(upstream_released)

    assert gateway_requests("500") == failures_before
    assert gateway_requests("200") >= 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


EVENT_STREAM = {"Accept": "text/event-stream"}


async def relayed_gateway(aiohttp_server, handler) -> tuple[web.Application, str]:
    upstream = web.Application()
    upstream.router.add_get(STREAM, handler)
    upstream_server = await aiohttp_server(upstream)
    url = str(upstream_server.make_url("")).rstrip("/")
    return create_gateway(dict.fromkeys(SERVICE_NAMES, url), {}, max_body=1 << 20), url


async def test_an_event_stream_is_relayed_byte_for_byte_to_its_clean_end(aiohttp_server):
    # Small messages, one far larger than a socket read, then the stream's end: the
    # client gets exactly what the service wrote, and a well-formed end.
    messages = [b"id: %d\nevent: availability\ndata: {}\n\n" % i for i in range(50)]
    messages.insert(25, b"data: " + b"x" * 300_000 + b"\n\n")

    async def finite_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for message in messages:
            await response.write(message)
        return response

    gateway, _ = await relayed_gateway(aiohttp_server, finite_stream)
    async with served(gateway) as (base,), aiohttp.ClientSession() as session:
        response = await session.get(base + STREAM, headers=EVENT_STREAM)
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert_security_headers(response.headers)
        assert await asyncio.wait_for(response.read(), 30) == b"".join(messages)


async def test_an_answer_that_is_not_a_stream_passes_through(aiohttp_server):
    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"code": "event_not_found"}, status=404)

    gateway, _ = await relayed_gateway(aiohttp_server, not_found)
    async with served(gateway) as (base,), aiohttp.ClientSession() as session:
        response = await session.get(base + STREAM, headers=EVENT_STREAM)
        assert response.status == 404
        assert (await response.json()) == {"code": "event_not_found"}
        assert_security_headers(response.headers)


async def test_closing_a_relayed_stream_frees_the_upstream(aiohttp_server):
    released = asyncio.Event()

    async def endless_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: availability\ndata: {}\n\n")
        try:
            await asyncio.sleep(3600)
        finally:
            released.set()
        return response

    gateway, _ = await relayed_gateway(aiohttp_server, endless_stream)
    async with served(gateway) as (base,), aiohttp.ClientSession() as session:
        response = await session.get(base + STREAM, headers=EVENT_STREAM)
        assert (await response.content.readline()).startswith(b"event: availability")
        response.close()

        async def upstream_released() -> bool:
            return released.is_set()

        await eventually(upstream_released)


async def test_a_stream_request_to_an_unreachable_service_is_a_503():
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    gateway = create_gateway(dict.fromkeys(SERVICE_NAMES, closed), {}, max_body=1 << 20)
    async with served(gateway) as (base,), aiohttp.ClientSession() as session:
        response = await session.get(base + STREAM, headers=EVENT_STREAM)
        assert response.status == 503
        assert (await response.json())["code"] == "upstream_unavailable"
