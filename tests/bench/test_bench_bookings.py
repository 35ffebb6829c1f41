"""hack/bench_bookings.py's own pieces, run on their own: its lean HTTP client against
real sockets, and the figures it derives. (``make bench`` runs the whole benchmark.)"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_bookings", ROOT / "hack/bench_bookings.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_bookings", module)
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP server answering each request with the next of ``responses``' exact bytes,
    written in pieces of 7 bytes so that a head and body arrive split across reads."""
    responses: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while responses:
            request = await reader.readuntil(b"\r\n\r\n")
            assert request.startswith((b"GET ", b"POST "))
            payload = responses.pop(0)
            for start in range(0, len(payload), 7):
                writer.write(payload[start : start + 7])
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port, responses
    server.close()
    await server.wait_closed()


async def test_content_length_as_the_last_header_is_read_whole(raw_server) -> None:
    port, responses = raw_server
    body = b'{"id": 1234, "status": "held"}'
    responses.append(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    connection = await bench.connect("127.0.0.1", port)
    try:
        assert await connection.request(b"POST /x HTTP/1.1\r\nHost: b\r\n", b"{}") == (201, body)
    finally:
        connection.transport.close()


async def test_content_length_anywhere_and_keep_alive_reuse(raw_server) -> None:
    port, responses = raw_server
    first, second = b'{"a": 1}', b""
    responses += [
        b"HTTP/1.1 200 OK\r\ncontent-length:%d\r\nX-Request-Id: r1\r\n\r\n%s" % (len(first), first),
        b"HTTP/1.1 204 No Content\r\nX-Request-Id: r2\r\nContent-Length: 0\r\n\r\n",
    ]
    connection = await bench.connect("127.0.0.1", port)
    try:
        assert await connection.request(b"GET /a HTTP/1.1\r\nHost: b\r\n") == (200, first)
        assert await connection.request(b"GET /b HTTP/1.1\r\nHost: b\r\n") == (204, second)
    finally:
        connection.transport.close()


async def test_a_response_without_content_length_is_an_error(raw_server) -> None:
    port, responses = raw_server
    responses.append(b"HTTP/1.1 200 OK\r\nX-Content-Length-Note: none\r\n\r\n")
    connection = await bench.connect("127.0.0.1", port)
    try:
        with pytest.raises(RuntimeError, match="without Content-Length"):
            await connection.request(b"GET / HTTP/1.1\r\nHost: b\r\n")
    finally:
        connection.transport.close()


def test_pg_cpu_ratio_compares_postgresql_cpu_per_booking_with_pgbench_per_transaction() -> None:
    sale = {"bookings_service": 0.25, "postgresql": 0.2}
    tickets = {"bookings_service": 0.1, "postgresql": 0.05}
    outbox = {"bookings_service": 0.15, "postgresql": 0.25}
    figures = bench.capacity(sale, [tickets, outbox], 0.5)
    assert figures == {
        "cpu_ms_per_booking_all_in": {"bookings_service": 0.5, "postgresql": 0.5},
        "pg_cpu_ratio": 2.5,
        "pg_cpu_ratio_all_in": 1.0,
        "bookings_per_s_per_pg_core": 2000.0,
        "bookings_per_s_per_service_core": 2000.0,
    }


def test_every_consumer_in_the_contracts_is_pointed_at_the_sink() -> None:
    from evently.core.contracts import TOPICS

    urls = bench.consumer_urls("http://127.0.0.1:1")
    consumers = {name for topic in TOPICS.values() for name in topic.consumers}
    assert {"NOTIFICATIONS_URL", "WAITING_ROOM_URL", "ANALYTICS_URL"} <= set(urls)
    assert len(urls) == len(consumers) and set(urls.values()) == {"http://127.0.0.1:1"}
