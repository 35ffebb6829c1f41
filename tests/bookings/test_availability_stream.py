"""Live availability over server-sent events, read by real HTTP clients."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from typing import Any

import aiohttp

from evently.bookings import availability_stream
from evently.bookings.availability_stream import CHANNEL, LISTENER_NAME, Frame
from evently.bookings.context import BOOKINGS
from evently.bookings.metrics import STREAM_SKIPPED
from tests.bookings.conftest import eventually, send_event
from tests.hardening.test_response_headers import assert_security_headers
from tests.support.served import served

MAX_LINES = 500


async def next_event(response) -> dict[str, Any]:
    """Read lines (bounded) until one complete ``availability`` event; skip heartbeats."""
    data = None
    for _ in range(MAX_LINES):
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return data
    raise AssertionError("no availability event")


async def wait_for_state(response, **expected: Any) -> dict[str, Any]:
    for _ in range(50):
        state = await next_event(response)
        if all(state[k] == v for k, v in expected.items()):
            return state
    raise AssertionError(f"never saw {expected}")


async def test_stream_sends_the_current_state_then_every_change(client, buyer):
    await send_event(client, 1, capacity=10)
    response = await client.get("/api/v1/events/1/availability/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    # A stream is prepared by its handler, yet carries what every response carries.
    assert_security_headers(response.headers)
    assert response.headers["X-Request-ID"]
    first = await next_event(response)
    assert (first["available"], first["on_sale"], first["sold_out"]) == (10, True, False)
    booking = (await buyer(1).hold(1, 4))[1]
    await wait_for_state(response, held=4, available=6)
    await buyer(1).confirm(booking["id"])
    await wait_for_state(response, sold=4, held=0, available=6)
    rest = (await buyer(2).hold(1, 6))[1]
    state = await wait_for_state(response, available=0)
    assert state["sold_out"] is True
    await buyer(2).cancel(rest["id"])
    await wait_for_state(response, available=6, sold_out=False)
    response.close()


async def test_unknown_or_draft_event_has_no_stream(client):
    await send_event(client, 2, status="draft")
    for event_id in (1, 2):
        response = await client.get(f"/api/v1/events/{event_id}/availability/stream")
        assert response.status == 404
        assert (await response.json())["code"] == "event_not_found"


async def test_heartbeats_keep_an_idle_stream_alive(client):
    await send_event(client, 1)
    response = await client.get("/api/v1/events/1/availability/stream")
    await next_event(response)
    for _ in range(MAX_LINES):
        line = await asyncio.wait_for(response.content.readline(), 10)
        if line == b": heartbeat\n":
            break
    else:
        raise AssertionError("no heartbeat")
    response.close()


async def test_one_listen_connection_serves_every_stream_and_closing_frees_them(
    client, aiohttp_client, db
):
    await send_event(client, 1)
    await send_event(client, 2)
    hub = client.server.app[BOOKINGS].streams
    streams = [
        await client.get(f"/api/v1/events/{event_id}/availability/stream")
        for event_id in (1, 1, 2, 2, 2)
    ]
    for stream in streams:
        await next_event(stream)
    assert hub.subscriber_count == 5
    await asyncio.wait_for(hub.listening.wait(), 10)
    listeners = await db.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_NAME,
    )
    assert listeners == 1
    for stream in streams:
        stream.close()

    async def all_freed() -> bool:
        return hub.subscriber_count == 0

    await eventually(all_freed)


async def test_a_stalled_subscriber_does_not_hold_back_the_others(client, buyer):
    await send_event(client, 1, capacity=50)
    stalled = await client.get("/api/v1/events/1/availability/stream")  # never read again
    reader = await client.get("/api/v1/events/1/availability/stream")
    await next_event(reader)
    for user_id in range(1, 11):
        assert (await buyer(user_id).hold(1, 2))[0] == 201
    await wait_for_state(reader, held=20, available=30)
    stalled.close()
    reader.close()


async def test_streams_survive_a_lost_listen_connection(client, buyer, db):
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    response = await client.get("/api/v1/events/1/availability/stream")
    await next_event(response)
    await asyncio.wait_for(hub.listening.wait(), 10)
    killed = await db.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_NAME,
    )
    assert killed == 1
    assert (await buyer(1).hold(1, 3))[0] == 201
    await wait_for_state(response, held=3)
    response.close()


async def test_a_client_leaving_is_noticed_long_before_the_next_heartbeat(bookings_app):
    # Served as in production (no handler cancellation on disconnect), with a heartbeat
    # far beyond this test's life: only the disconnect watch can free the subscription.
    app = bookings_app({"BOOKINGS_SSE_HEARTBEAT_S": "3600"})
    async with served(app) as (base,), aiohttp.ClientSession(base) as client:
        await send_event(client, 1)
        hub = app[BOOKINGS].streams
        stream = await client.get("/api/v1/events/1/availability/stream")
        await next_event(stream)
        assert hub.subscriber_count == 1
        stream.close()

        async def freed() -> bool:
            return hub.subscriber_count == 0

        await eventually(freed)


async def test_every_message_carries_the_waitlist_and_joins_are_updates(client, buyer):
    await send_event(client, 1, capacity=2)
    booking = (await buyer(1).hold(1, 2))[1]
    stream = await client.get("/api/v1/events/1/availability/stream")
    first = await next_event(stream)
    assert (first["sold_out"], first["waitlisted"]) == (True, 0)
    for user in (2, 3):
        status, _ = await buyer(user).post("/api/v1/events/1/waitlist", {"quantity": 1})
        assert status == 201
    state = await wait_for_state(stream, waitlisted=2)
    assert state["sold_out"] is True
    await buyer(1).cancel(booking["id"])  # both waiters get an offer: the line empties
    state = await wait_for_state(stream, waitlisted=0)
    assert state["held"] == 2
    stream.close()


STREAM = b"GET /api/v1/events/1/availability/stream HTTP/1.1\r\nHost: t\r\n\r\n"


async def read_until(reader: asyncio.StreamReader, marker: bytes, limit: int = 64 << 20) -> bytes:
    """Bytes read until ``marker`` appears (bounded in size)."""
    received = bytearray()
    while marker not in received:
        data = await asyncio.wait_for(reader.read(1 << 16), 10)
        if not data or len(received) > limit:
            raise AssertionError(f"{marker!r} never came")
        received += data
    return bytes(received)


def versions_in(raw: bytes) -> list[int]:
    """The ``id:`` (inventory version) of every message in a raw stream."""
    return [int(v) for v in re.findall(rb"(?m)^id: (\d+)\n", raw)]


async def test_every_subscriber_that_keeps_up_gets_every_change_in_order(client, db, monkeypatch):
    # Forty states NOTIFYed back to back, far faster than the stream handlers could take
    # them one by one, fanned out in slices of three: coalescing never drops a state a
    # subscriber can take.
    monkeypatch.setattr(availability_stream, "FANOUT_SLICE", 3)
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    streams = [await client.get("/api/v1/events/1/availability/stream") for _ in range(10)]
    first, *_ = [await next_event(stream) for stream in streams]
    await asyncio.wait_for(hub.listening.wait(), 10)
    changes = range(first["version"] + 1, first["version"] + 41)
    for version in changes:
        state = {**first, "version": version, "held": version % 10}
        await db.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(state))
    for stream in streams:
        received = [await next_event(stream) for _ in changes]
        assert [state["version"] for state in received] == list(changes)
        assert received[-1]["held"] == changes[-1] % 10
        stream.close()


async def test_a_stalled_subscriber_gets_the_newest_state_and_never_slows_the_others(client):
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    reader = await client.get("/api/v1/events/1/availability/stream")
    first = await next_event(reader)
    # A client that stops reading, with a tiny receive window: its connection backs up.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((client.server.host, client.server.port))
    stalled.sendall(STREAM)

    async def both_subscribed() -> bool:
        return hub.subscriber_count == 2

    await eventually(both_subscribed)
    skipped = STREAM_SKIPPED._value.get()
    padding = "x" * 40_000  # 300 states of 40 kB: far more than the kernel buffers
    changes = range(first["version"] + 1, first["version"] + 301)
    for version in changes:
        hub.deliver_now(Frame(1, version, json.dumps({**first, "version": version, "p": padding})))
        assert (await next_event(reader))["version"] == version  # the reader gets each one
    assert STREAM_SKIPPED._value.get() > skipped
    # Once it reads again, the stalled client gets what was written before it backed up,
    # then straight the newest state: in order, never an older one after a newer one.
    stalled.setblocking(False)
    stream, _ = await asyncio.open_connection(sock=stalled)
    got = versions_in(await read_until(stream, b"id: %d\n" % changes[-1]))
    assert got == sorted(set(got))
    assert got[-1] == changes[-1]
    assert len(got) < len(changes) + 1  # some states were coalesced away
    stalled.close()
    reader.close()


async def test_a_stream_opened_while_a_change_passes_starts_from_the_newest_state(client):
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    watcher = await client.get("/api/v1/events/1/availability/stream")  # starts the hub
    first = await next_event(watcher)
    # A state published after the route read the database, before the stream subscribed.
    newer = {**first, "version": first["version"] + 5, "held": 3}
    hub.publish(Frame(1, newer["version"], json.dumps(newer)))
    stream = await client.get("/api/v1/events/1/availability/stream")
    assert (await next_event(stream))["version"] == newer["version"]
    stream.close()
    watcher.close()


async def test_an_http_1_0_client_gets_the_stream_unchunked(client):
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"GET /api/v1/events/1/availability/stream HTTP/1.0\r\n\r\n")
        head, body = (await read_until(reader, b"}\n\n")).split(b"\r\n\r\n", 1)
        assert b"transfer-encoding" not in head.lower()
        assert body.startswith(b"retry: 2000\n\nid: ")
        state = json.loads(body.split(b"data: ", 1)[1].split(b"\n", 1)[0])
        newer = Frame(1, state["version"] + 1, json.dumps({**state, "held": 1}))
        hub.deliver_now(newer)
        assert await read_until(reader, b"}\n\n") == newer.plain
    finally:
        writer.close()
