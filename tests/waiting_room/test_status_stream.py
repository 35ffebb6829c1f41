"""A visitor's status as server-sent events: the /me object whenever it changes, pushed
by the room's version (one query per room change for all its connected visitors)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from evently.core.db import POOL
from evently.core.health import SHUTTING_DOWN
from evently.waiting_room.context import WAITING_ROOM
from tests.hardening.test_response_headers import assert_security_headers
from tests.waiting_room.conftest import (
    bearer,
    configure_room,
    join,
    report_inventory,
    status,
    tick,
    utc,
)

T0 = utc(2030, 1, 1, 12, 0, 0)
MAX_LINES = 500
STREAM = "/api/v1/events/1/waiting-room/me/stream"


async def next_status(response) -> dict[str, Any]:
    """Read lines (bounded) until one complete ``status`` event; skip heartbeats."""
    data = None
    for _ in range(MAX_LINES):
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return data
    raise AssertionError("no status event")


async def eventually(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def fanouts() -> float:
    return REGISTRY.get_sample_value("evently_waiting_room_stream_fanouts_total") or 0.0


def fanout_reads() -> float:
    return REGISTRY.get_sample_value("evently_waiting_room_stream_fanout_reads_total") or 0.0


async def open_stream(room, tokens, user_id: int):
    response = await room.get(STREAM, headers=bearer(tokens, user_id))
    assert response.status == 200, await response.text()
    return response


async def test_the_stream_sends_the_status_then_each_change(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    await join(room, tokens, 1, 2)
    stream = await open_stream(room, tokens, 2)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert_security_headers(stream.headers)
    first = await next_status(stream)
    poll = await (
        await room.get("/api/v1/events/1/waiting-room/me", headers=bearer(tokens, 2))
    ).json()
    assert first == poll  # the same object as the poll
    assert (first["state"], first["ahead"]) == ("waiting", 1)

    await tick(room, 1, T0 + timedelta(seconds=1))  # admits visitor 1: visitor 2 moves up
    moved = await next_status(stream)
    assert (moved["state"], moved["ahead"]) == ("waiting", 0)
    await tick(room, 1, T0 + timedelta(seconds=2))
    admitted = await next_status(stream)
    assert admitted["state"] == "admitted" and admitted["admission_token"]
    stream.close()


async def test_a_sell_out_reaches_every_open_stream_with_one_query(room, tokens):
    await configure_room(room, 1)
    await tick(room, 1, T0)
    visitors = range(1, 6)
    for user_id in visitors:
        await join(room, tokens, 1, user_id)
    streams = [await open_stream(room, tokens, user_id) for user_id in visitors]
    for stream in streams:
        assert (await next_status(stream))["state"] == "waiting"
    await asyncio.wait_for(room.app[WAITING_ROOM].versions.listening.wait(), 10)
    before = fanouts()

    await report_inventory(room, 1, 1, sold_out=True)

    for stream in streams:
        told = await next_status(stream)
        assert told["state"] == "sold_out"
        assert told["waitlist"]["join"]["href"] == "/api/v1/events/1/waitlist"
    # One change of the room, five visitors: one fan-out (a reload may add one more).
    assert 1 <= fanouts() - before <= 2
    for stream in streams:
        stream.close()


async def test_visitors_in_line_are_told_of_a_sell_out_from_memory(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())  # the replica holding the streams
    await configure_room(room, 1)
    await tick(room, 1, T0)
    visitors = range(1, 6)
    for user_id in visitors:
        await join(room, tokens, 1, user_id)
    streams = [await open_stream(other, tokens, user_id) for user_id in visitors]
    waiting = [await next_status(stream) for stream in streams]
    assert {told["state"] for told in waiting} == {"waiting"}
    await asyncio.wait_for(other.app[WAITING_ROOM].versions.listening.wait(), 10)
    await other.app[POOL].close()  # from here on, a fan-out that reads the database fails

    await report_inventory(room, 1, 1, sold_out=True)

    for stream, user_id in zip(streams, visitors, strict=True):
        told = await next_status(stream)
        assert told["state"] == "sold_out"
        assert told == await status(room, tokens, 1, user_id)  # what the poll says
    for stream in streams:
        stream.close()


async def test_streams_opened_with_the_joins_etag_are_told_of_a_sell_out_from_memory(
    room, tokens, aiohttp_client, make_room_app
):
    # A stream opened with a current ETag never read its visitor's ticket; the tag names
    # it, so the sell-out still needs no database (before: one read of every such stream
    # while thousands waited, 0.65 s of the notice in the benchmark).
    other = await aiohttp_client(make_room_app())  # the replica holding the streams
    await configure_room(room, 1)
    await tick(room, 1, T0)
    visitors = range(1, 6)
    etags = {}
    for user_id in visitors:
        joined = await room.post(
            "/api/v1/events/1/waiting-room/join", headers=bearer(tokens, user_id)
        )
        etags[user_id] = joined.headers["ETag"]
    await asyncio.wait_for(other.app[WAITING_ROOM].versions.listening.wait(), 10)
    streams = []
    for user_id in visitors:
        headers = {**bearer(tokens, user_id), "If-None-Match": etags[user_id]}
        response = await other.get(STREAM, headers=headers)
        assert response.status == 200
        streams.append(response)
    await eventually(lambda: other.app[WAITING_ROOM].streams.subscriber_count == 5, "streams")
    await other.app[POOL].close()  # from here on, a fan-out that reads the database fails

    await report_inventory(room, 1, 1, sold_out=True)

    for stream, user_id in zip(streams, visitors, strict=True):
        told = await next_status(stream)  # the first event: the status held was not repeated
        assert told["state"] == "sold_out"
        assert told == await status(room, tokens, 1, user_id)  # what the poll says
    for stream in streams:
        stream.close()


async def test_a_stream_opened_with_a_current_etag_does_not_repeat_the_status(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    joined = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 2))
    etag = joined.headers["ETag"]
    await asyncio.wait_for(room.app[WAITING_ROOM].versions.listening.wait(), 10)
    response = await room.get(STREAM, headers={**bearer(tokens, 2), "If-None-Match": etag})
    assert response.status == 200

    await tick(room, 1, T0 + timedelta(seconds=1))  # admits visitor 1: visitor 2 moves up
    moved = await next_status(response)  # the first event is the change, not the status held
    assert (moved["state"], moved["ahead"]) == ("waiting", 0)
    await report_inventory(room, 1, 1, sold_out=True)
    assert (await next_status(response))["state"] == "sold_out"
    response.close()


async def test_a_stale_etag_gets_the_status_at_once(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    joined = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 2))
    etag = joined.headers["ETag"]
    await tick(room, 1, T0 + timedelta(seconds=1))  # visitor 2's view moved: ahead 0
    await asyncio.wait_for(room.app[WAITING_ROOM].versions.listening.wait(), 10)
    response = await room.get(STREAM, headers={**bearer(tokens, 2), "If-None-Match": etag})
    first = await next_status(response)
    assert (first["state"], first["ahead"]) == ("waiting", 0)
    response.close()


async def test_a_stale_in_line_etag_gets_the_status_from_memory(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())  # the replica opening the stream
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    joined = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 2))
    etag = joined.headers["ETag"]
    await tick(room, 1, T0 + timedelta(seconds=1))  # visitor 2's view moved: ahead 0
    versions = other.app[WAITING_ROOM].versions
    await asyncio.wait_for(versions.listening.wait(), 10)
    await eventually(lambda: versions.snapshot(1).serving == 1, "the tick heard")
    await other.app[POOL].close()  # the tag names the ticket: no read needed

    response = await other.get(STREAM, headers={**bearer(tokens, 2), "If-None-Match": etag})
    first = await next_status(response)
    assert (first["state"], first["ahead"]) == ("waiting", 0)
    assert first == await status(room, tokens, 1, 2)  # what the poll says
    response.close()


async def test_heartbeats_keep_an_idle_stream_alive(make_room_app, aiohttp_client, tokens):
    room = await aiohttp_client(make_room_app(WAITING_ROOM_STREAM_HEARTBEAT_S="0.2"))
    await configure_room(room, 1)
    await join(room, tokens, 1, 1)
    stream = await open_stream(room, tokens, 1)
    await next_status(stream)
    for _ in range(MAX_LINES):
        if await asyncio.wait_for(stream.content.readline(), 10) == b": heartbeat\n":
            break
    else:
        raise AssertionError("no heartbeat")
    stream.close()


async def test_no_stream_before_joining_and_closed_streams_are_freed(room, tokens):
    await configure_room(room, 1)
    refused = await room.get(STREAM, headers=bearer(tokens, 3))
    assert refused.status == 404
    assert (await refused.json())["code"] == "queue_ticket_not_found"
    hub = room.app[WAITING_ROOM].streams
    await eventually(lambda: hub.subscriber_count == 0, "the refused stream is released")

    await join(room, tokens, 1, 3)
    streams = [await open_stream(room, tokens, 3) for _ in range(2)]
    for stream in streams:
        await next_status(stream)
    assert hub.subscriber_count == 2
    for stream in streams:
        stream.close()
    await eventually(lambda: hub.subscriber_count == 0, "closed streams are freed")


async def test_streams_are_capped_per_process(make_room_app, aiohttp_client, tokens):
    room = await aiohttp_client(make_room_app(WAITING_ROOM_STREAM_MAX_SUBSCRIBERS="1"))
    await configure_room(room, 1)
    await join(room, tokens, 1, 1)
    first = await open_stream(room, tokens, 1)
    await next_status(first)
    second = await room.get(STREAM, headers=bearer(tokens, 1))
    assert second.status == 503
    assert (await second.json())["code"] == "too_many_streams"
    first.close()


async def test_a_stream_needs_a_signed_in_visitor(room):
    await configure_room(room, 1)
    assert (await room.get(STREAM)).status == 401


async def test_a_stream_on_one_replica_hears_a_tick_on_the_other(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())  # a second replica, same database
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 4)
    stream = await open_stream(other, tokens, 4)
    assert (await next_status(stream))["state"] == "waiting"
    await tick(room, 1, T0 + timedelta(seconds=1))  # replica one admits
    assert (await next_status(stream))["state"] == "admitted"
    stream.close()


async def test_every_stream_ends_when_the_service_shuts_down(room, tokens):
    await configure_room(room, 1)
    await join(room, tokens, 1, 1)
    stream = await open_stream(room, tokens, 1)
    await next_status(stream)
    room.app[SHUTTING_DOWN].set()  # what the app's on_shutdown does
    for _ in range(MAX_LINES):
        if await asyncio.wait_for(stream.content.readline(), 10) == b"":
            break  # the server ended the response
    else:
        raise AssertionError("the stream never ended")
    hub = room.app[WAITING_ROOM].streams
    await eventually(lambda: hub.subscriber_count == 0, "the ended stream is freed")
