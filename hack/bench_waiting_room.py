#!/usr/bin/env python3
"""Waiting room benchmark: `make bench-waiting-room` (BENCH_ARGS="--arrivals 20000 ...").

An open-loop flash sale through the real HTTP API, run twice in the same run on the
same stack (docs/benchmarks.md, "Waiting room"):

1. starts an embedded PostgreSQL, the users service (its JWKS verifies every token),
   bookings and the waiting room (``evently serve``), as ``hack/bench_bookings.py``
   does and with its helpers; bookings' outbox relay delivers ``inventory.changed`` and
   ``booking.changed`` to the room, everything else to a sink;
2. mints one access token per arrival with the users service's own signing key (the
   services verify them against its JWKS; registering 20,000 accounts through the API
   would only measure bcrypt);
3. ``with_room``: an event with a waiting room; arrivals at a fixed rate, all after the
   sale opened, each timestamped; each arrival joins, polls ``/me`` (with ETag) until
   admitted, holds its quantity (1-4 seats, seeded) with the Admission-Token and
   confirms; waiters keep polling until they are told the event sold out;
4. ``without_room``: the same arrivals on a second event without a room: each holds at
   once, retrying retryable refusals (503, 429), then confirms;
5. checks the database (oversell, undersell) and reads the room's fairness report;
6. prints the figures and writes bench-results/waiting_room.json.

FIFO fidelity = of the first K arrivals (K: how many buyers, in arrival order, the
seats can serve given their quantities, the last one possibly served in part), the
share who got seats. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import json
import math
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_bookings as bb  # hack/ is not a package

ROOT = bb.ROOT
ADMITTED_HOLD_TIMEOUT_S = 30.0
SOLD_OUT_WAIT_S = 30.0  # how long waiters may take to learn the event sold out


# ---------------------------------------------------------------- connections


class Connection(bb.HttpConnection):
    """bench_bookings' lean connection, also keeping the last response's head (ETag)."""

    last_head: bytes = b""

    def data_received(self, data: bytes) -> None:
        pending = self.buffer + data
        end = pending.find(b"\r\n\r\n")
        if end < 0:
            super().data_received(data)
            return
        self.last_head = bytes(pending[:end])
        if b"\r\ncontent-length:" not in self.last_head.lower() and pending[9:12] in (
            b"204",
            b"304",
        ):
            # No body, and aiohttp may send no Content-Length: say so for the parser.
            self.buffer = bytearray()
            data = bytes(pending[:end]) + b"\r\nContent-Length: 0" + bytes(pending[end:])
        super().data_received(data)

    def header(self, name: bytes) -> str:
        for line in self.last_head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name:
                return value.strip().decode()
        return ""


async def connect(port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(Connection, "127.0.0.1", port)
    return protocol


@dataclass
class Answer:
    status: int
    body: bytes
    wire_s: float  # on the wire, queueing for a connection excluded
    etag: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str:
        return bb._code(self.body)


class Pool:
    """Keep-alive connections to one service, one request at a time each, handed out
    first come, first served: a freed connection goes straight to the longest waiter.
    (An ``asyncio.Queue`` lets a newcomer take a freed connection before the waiter it
    woke, which then queues again at the back: before 2026-12-04 that reordered the
    arrivals' joins before they reached the room, and cost the bench's FIFO fidelity.)"""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.idle: list[Connection] = []
        self.waiters: collections.deque[asyncio.Future[Connection]] = collections.deque()

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.append(await connect(self.port))

    async def _take(self) -> Connection:
        if self.idle and not self.waiters:
            return self.idle.pop()
        waiter: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return await waiter

    def _give_back(self, conn: Connection) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    async def request(self, head: bytes, body: bytes = b"") -> Answer:
        conn = await self._take()
        try:
            t0 = time.perf_counter()
            status, payload = await conn.request(head, body)
            answer = Answer(status, payload, time.perf_counter() - t0, conn.header(b"etag"))
        except BaseException:
            conn.transport.close()  # type: ignore[union-attr]
            conn = await connect(self.port)
            raise
        finally:
            self._give_back(conn)
        return answer

    def close(self) -> None:
        for conn in self.idle:
            conn.transport.close()  # type: ignore[union-attr]
        self.idle.clear()


def head(method: str, path: str, token: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: b", f"Authorization: Bearer {token}", *extra]
    if method == "POST":
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n").encode()


class StatusStream(asyncio.Protocol):
    """One visitor's status stream on a connection of its own, as a browser page holds it:
    reads the server-sent events and keeps the first decisive status (admitted, sold out,
    session over), timestamped when its bytes were read. It runs on the readers' thread
    (``StreamReaders``): ``decided`` is thread-safe."""

    DECISIVE = (b'"state":"admitted"', b'"state":"sold_out"', b'"state":"expired"')

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head_seen = False
        self.decided: concurrent.futures.Future[tuple[float, dict[str, Any]]] = (
            concurrent.futures.Future()
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.decided.done():
            self.decided.set_exception(ConnectionError(f"stream lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self.buffer += data
        if not self.head_seen:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if self.buffer[9:12] != b"200" and not self.decided.done():
                status = bytes(self.buffer[9:12]).decode()
                self.decided.set_exception(RuntimeError(f"stream answered {status}"))
                return
            self.head_seen = True
            del self.buffer[: end + 4]
        while not self.decided.done():
            start = self.buffer.find(b"data: ")
            end = self.buffer.find(b"\n", start) if start >= 0 else -1
            if end < 0:
                return
            line = bytes(self.buffer[start + 6 : end])
            del self.buffer[: end + 1]
            if any(state in line for state in self.DECISIVE):
                self.decided.set_result((at, json.loads(line)))
        if len(self.buffer) > 65536:
            del self.buffer[:-4096]  # heartbeats and chunk framing only


class StreamReaders:
    """The visitors' status streams, read on a thread with an event loop of its own.

    A crowd's pages each read their own stream; here one process plays all of them, and
    its event loop is also sending every arrival's join and reading every answer. Read
    on that loop, a sold-out notice waited for whatever the loop was doing (at the
    sell-out: thousands of join answers), and the bench timed its own lag as the
    room's. On a thread of their own, the streams' bytes are read (and timestamped)
    within the interpreter's switch interval (5 ms) of their arrival."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    async def open(self, port: int, path: str, token: str, etag: str) -> StatusStream:
        """Open a stream on the readers' loop (with the join's ETag as If-None-Match)."""

        async def connect_there() -> StatusStream:
            _, stream = await self.loop.create_connection(StatusStream, "127.0.0.1", port)
            extra = [f"If-None-Match: {etag}"] if etag else []
            stream.transport.write(head("GET", path, token, *extra) + b"\r\n")  # type: ignore[union-attr]
            return stream

        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(connect_there(), self.loop)
        )

    def close(self, stream: StatusStream) -> None:
        if stream.transport is not None:
            self.loop.call_soon_threadsafe(stream.transport.close)


# ---------------------------------------------------------------- one sale


@dataclass
class Arrival:
    number: int
    quantity: int
    token: str
    arrived_at: float = 0.0  # wall clock, when the arrival sent its first request
    seats: int = 0  # confirmed
    admitted: bool = False
    joined_at: float | None = None  # wall clock, when the join's answer came
    sold_out_seen_at: float | None = None  # wall clock
    told_by: str = ""  # what told them the event sold out: join, stream or poll
    position: int | None = None  # their place in line, from the join's answer


@dataclass
class Sale:
    arrivals: list[Arrival]
    errors: Counter[str] = field(default_factory=Counter)
    joins: list[float] = field(default_factory=list)  # completion times (perf_counter)
    polls: list[float] = field(default_factory=list)
    poll_latency: list[float] = field(default_factory=list)
    hold_started: list[float] = field(default_factory=list)
    confirmed_at: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    readers: StreamReaders | None = None  # where the status streams are read


def fifo_fidelity(arrivals: list[Arrival], seats: int) -> tuple[int, float | None]:
    """(K, share of the first K arrivals who got seats): K buyers in arrival order use
    up the seats given their quantities (the K-th possibly served in part)."""
    k, left = 0, seats
    for arrival in arrivals:
        if left <= 0:
            break
        k, left = k + 1, left - arrival.quantity
    if k == 0:
        return 0, None
    return k, sum(1 for a in arrivals[:k] if a.seats > 0) / k


async def buy(
    sale: Sale, bookings: Pool, event_id: int, arrival: Arrival, admission: str | None
) -> None:
    """Hold (retrying retryable refusals, taking what is left) and confirm."""
    quantity = arrival.quantity
    extra = [f"Admission-Token: {admission}"] if admission else []
    sale.hold_started.append(time.perf_counter())
    for attempt in range(40):
        body = b'{"event_id":%d,"quantity":%d}' % (event_id, quantity)
        hold = await bookings.request(
            head(
                "POST",
                "/api/v1/bookings",
                arrival.token,
                f"Idempotency-Key: {uuid.uuid4().hex}",
                *extra,
            ),
            body,
        )
        if hold.status == 201:
            booking_id = hold.json()["id"]
            confirm = await bookings.request(
                head("POST", f"/api/v1/bookings/{booking_id}/confirm", arrival.token)
            )
            if confirm.status == 200:
                arrival.seats = quantity
                sale.confirmed_at.append(time.perf_counter())
            else:
                sale.errors[f"confirm {confirm.status} {confirm.code}"] += 1
            return
        if hold.status == 409 and hold.code == "sold_out":
            available = hold.json().get("available", 0)
            if available <= 0:
                return
            quantity = min(quantity, available)
            continue
        if hold.status in (429, 503):
            await asyncio.sleep(min(0.5, 0.02 * (attempt + 1)))
            continue
        sale.errors[f"hold {hold.status} {hold.code}"] += 1
        return
    sale.errors["hold retries exhausted"] += 1


async def visitor(
    sale: Sale,
    room: Pool,
    bookings: Pool,
    event_id: int,
    arrival: Arrival,
    poll_s: float | None,
) -> None:
    """Join, then follow the status stream (or poll /me every ``poll_s``) until admitted
    (then buy) or told the event sold out."""
    try:
        await _visit(sale, room, bookings, event_id, arrival, poll_s)
    except (OSError, RuntimeError, ValueError, ConnectionError) as exc:
        sale.errors[f"visitor {type(exc).__name__}: {str(exc)[:60]}"] += 1


async def _visit(
    sale: Sale,
    room: Pool,
    bookings: Pool,
    event_id: int,
    arrival: Arrival,
    poll_s: float | None,
) -> None:
    base = f"/api/v1/events/{event_id}/waiting-room"
    arrival.arrived_at = time.time()
    joined = await room.request(head("POST", base + "/join", arrival.token))
    arrival.joined_at = time.time()
    sale.joins.append(time.perf_counter())
    if joined.status != 200:
        sale.errors[f"join {joined.status} {joined.code}"] += 1
        return
    status = joined.json()
    arrival.position = status["position"]
    if status["state"] == "sold_out":
        arrival.sold_out_seen_at, arrival.told_by = arrival.joined_at, "join"
        return
    if status["state"] == "admitted":
        arrival.admitted = True
        await buy(sale, bookings, event_id, arrival, status["admission_token"])
        return
    if poll_s is None:
        await _follow_stream(sale, room, bookings, event_id, arrival, joined.etag)
        return
    etag = joined.etag
    while not sale.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sale.stop.wait(), poll_s)
        if sale.stop.is_set():
            return
        extra = [f"If-None-Match: {etag}"] if etag else []
        me = await room.request(head("GET", base + "/me", arrival.token, *extra))
        sale.polls.append(time.perf_counter())
        sale.poll_latency.append(me.wire_s)
        if me.status == 304:
            continue
        if me.status != 200:
            sale.errors[f"poll {me.status} {me.code}"] += 1
            return
        etag = me.etag
        state = me.json()["state"]
        if state == "admitted":
            arrival.admitted = True
            await buy(sale, bookings, event_id, arrival, me.json()["admission_token"])
            return
        # /me says sold_out itself, or (where it does not) the status changed and the
        # visitor looks at the room's public state, as a client would.
        if state == "sold_out" or await room_state(room, base, arrival.token) == "sold_out":
            arrival.sold_out_seen_at, arrival.told_by = time.time(), "poll"
            return
        if state == "expired":
            return


async def _follow_stream(
    sale: Sale, room: Pool, bookings: Pool, event_id: int, arrival: Arrival, etag: str
) -> None:
    """Hold the status stream (opened with the join's ETag) until a decisive status."""
    path = f"/api/v1/events/{event_id}/waiting-room/me/stream"
    readers = sale.readers
    assert readers is not None
    stream = await readers.open(room.port, path, arrival.token, etag)
    decided = asyncio.wrap_future(stream.decided)
    stopping = asyncio.ensure_future(sale.stop.wait())
    try:
        await asyncio.wait({decided, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not decided.done():
            return
        at, status = decided.result()
    finally:
        stopping.cancel()
        if not decided.done():  # the stream's end, after the sale: nobody waits for it
            decided.add_done_callback(lambda f: f.cancelled() or f.exception())
        readers.close(stream)
    if status["state"] == "admitted":
        arrival.admitted = True
        await buy(sale, bookings, event_id, arrival, status["admission_token"])
    elif status["state"] == "sold_out":
        arrival.sold_out_seen_at, arrival.told_by = at, "stream"


async def room_state(room: Pool, base: str, token: str) -> str | None:
    answer = await room.request(head("GET", base, token))
    return answer.json()["state"] if answer.status == 200 else None


async def direct_buyer(sale: Sale, bookings: Pool, event_id: int, arrival: Arrival) -> None:
    arrival.arrived_at = time.time()
    try:
        await buy(sale, bookings, event_id, arrival, None)
    except (OSError, RuntimeError, ValueError) as exc:
        sale.errors[f"buyer {type(exc).__name__}: {str(exc)[:60]}"] += 1


async def open_loop(
    arrivals: list[Arrival], seconds: float, start: Any
) -> list[asyncio.Task[None]]:
    """Start ``start(arrival)`` for each arrival at its fixed time (rate = n / seconds)."""
    tasks: list[asyncio.Task[None]] = []
    began = time.perf_counter()
    interval = seconds / max(1, len(arrivals))
    for i, arrival in enumerate(arrivals):
        delay = began + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start(arrival)))
    return tasks


def rate(times: list[float]) -> float | None:
    if len(times) < 2 or max(times) <= min(times):
        return None
    return round((len(times) - 1) / (max(times) - min(times)), 1)


def p99_ms(samples: list[float]) -> float | None:
    return percentile_ms(samples, 0.99)


def percentile_ms(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[max(1, math.ceil(len(ordered) * q)) - 1] * 1000, 1)  # nearest rank


# ---------------------------------------------------------------- the stack


def room_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "enabled": True,
        "prequeue_opens_at": None,
        "admission_rate_per_minute": args.admission_rate,
        # Sessions last their TTL after a purchase (no idle detection yet): the cap must
        # not be what limits admission here, the rate is what is measured.
        "max_active_shoppers": args.arrivals,
        "session_ttl_s": 600,
        "when_sold_out": "offer_waitlist",
    }


async def create_event(
    args: argparse.Namespace, event_id: int, ports: list[int], room: dict[str, Any] | None
) -> None:
    """Post the event's event.changed to each inbox, as the events outbox would."""
    batch = bb.event_message(event_id, args.seats, 4)
    batch["messages"][0]["payload"]["waiting_room"] = room
    for port in ports:
        conn = await bb.connect("127.0.0.1", port)
        try:
            status, body = await conn.request(
                b"POST /internal/inbox HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                + f"X-Internal-Key: {bb.INTERNAL_KEY}\r\n".encode(),
                json.dumps(batch).encode(),
            )
        finally:
            conn.transport.close()  # type: ignore[union-attr]
        if status != 200 or json.loads(body)["acknowledged"] != [event_id]:
            raise SystemExit(f"could not create event {event_id}: {status} {body[:300]!r}")


async def wait_for(probe: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def mint_tokens(keys_json: str, count: int, first_user: int) -> list[str]:
    from evently.core.signing_keys import load_key_ring
    from evently.users.keys import JWT_KEY_VARIABLES
    from evently.users.tokens import mint_access_token

    key = load_key_ring(JWT_KEY_VARIABLES, keys_json=keys_json, keys_dir="", active_kid="").active
    return [
        mint_access_token(
            {
                "id": first_user + i,
                "email": f"b{first_user + i}@bench.example",
                "email_verified": True,
                "roles": ["customer"],
                "permissions": [],
            },
            key,
            3600,
        )
        for i in range(count)
    ]


def admin_token(keys_json: str) -> str:
    from evently.core.signing_keys import load_key_ring
    from evently.users.keys import JWT_KEY_VARIABLES
    from evently.users.tokens import mint_access_token

    key = load_key_ring(JWT_KEY_VARIABLES, keys_json=keys_json, keys_dir="", active_kid="").active
    user = {
        "id": 1,
        "email": "admin@bench.example",
        "email_verified": True,
        "roles": ["admin"],
        "permissions": ["analytics:read"],
    }
    return mint_access_token(user, key, 3600)


def make_arrivals(args: argparse.Namespace, tokens: list[str]) -> list[Arrival]:
    rng = random.Random(args.seed)
    return [Arrival(i, rng.randint(1, 4), tokens[i]) for i in range(args.arrivals)]


# ---------------------------------------------------------------- the two runs


async def run_with_room(
    args: argparse.Namespace,
    event_id: int,
    room_port: int,
    bookings_port: int,
    dsn: str,
    arrivals: list[Arrival],
    admin: str,
    sink: TimingSink,
) -> dict[str, Any]:
    sale = Sale(arrivals, readers=StreamReaders())
    sale.readers.start()  # type: ignore[union-attr]
    room, bookings, watcher = (
        Pool(room_port, args.connections),
        Pool(bookings_port, max(8, args.connections // 4)),
        Pool(room_port, 1),
    )
    await asyncio.gather(room.open(), bookings.open(), watcher.open())
    base = f"/api/v1/events/{event_id}/waiting-room"
    room_sold_out_at: float | None = None

    async def watch() -> None:
        nonlocal room_sold_out_at
        while room_sold_out_at is None and not sale.stop.is_set():
            if await room_state(watcher, base, admin) == "sold_out":
                room_sold_out_at = time.time()
                return
            await asyncio.sleep(0.02)

    watching = asyncio.create_task(watch())
    listener = RoomCommitListener(dsn, event_id)
    listener.start()
    lag = LoopLag()
    lag.start()
    started = time.perf_counter()
    poll_s = args.poll_interval if args.waiters == "poll" else None
    tasks = await open_loop(
        arrivals, args.seconds, lambda a: visitor(sale, room, bookings, event_id, a, poll_s)
    )
    arrivals_done = time.perf_counter()
    # Until sold out (or the cap), then until every waiter knows it (bounded).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(watching), args.max_sale_s)
    if room_sold_out_at is not None:
        end = time.monotonic() + SOLD_OUT_WAIT_S
        while time.monotonic() < end:
            pending = [
                a
                for a in arrivals
                if a.arrived_at
                and not a.admitted
                and a.sold_out_seen_at is None
                and a.arrived_at < room_sold_out_at
            ]
            if not pending:
                break
            await asyncio.sleep(0.1)
    sale.stop.set()
    bench_loop_lag = lag.stop()
    listener.stop()
    await asyncio.wait(tasks, timeout=30)
    watching.cancel()
    for pool in (room, bookings, watcher):
        pool.close()
    sale.readers.stop()  # type: ignore[union-attr]
    sold_out_commit = await sold_out_commit_time(dsn, event_id)
    waiters = [
        a
        for a in arrivals
        if a.arrived_at
        and not a.admitted
        and sold_out_commit is not None
        and a.arrived_at < sold_out_commit
    ]
    notices = [
        a.sold_out_seen_at - sold_out_commit
        for a in waiters
        if a.sold_out_seen_at is not None and sold_out_commit is not None
    ]
    # In line at the commit: their join had been answered (the rest were still joining).
    in_line = [a for a in waiters if a.joined_at is not None and a.joined_at < sold_out_commit]
    in_line_notices = [
        a.sold_out_seen_at - sold_out_commit
        for a in in_line
        if a.sold_out_seen_at is not None and sold_out_commit is not None
    ]
    report = await fetch_report(room_port, event_id, admin)
    k, fidelity = fifo_fidelity(arrivals, args.seats)
    first_k = arrivals[:k]
    placed = sorted(a.position for a in arrivals if a.position is not None)
    kth = placed[k - 1] if 0 < k <= len(placed) else None
    return {
        **sale_figures(sale, arrivals, k, fidelity, started, arrivals_done),
        "admission_rate_error": report["admission_rate"]["error"],
        "admission_rate": report["admission_rate"],
        "soldout_notice_p99_ms": p99_ms(notices),
        "soldout_notice": {
            "waiting_at_sold_out": len(waiters),
            "noticed": len(notices),
            "missed": len(waiters) - len(notices),
            "p50_ms": percentile_ms(notices, 0.5),
            "p90_ms": percentile_ms(notices, 0.9),
            "told_by": dict(Counter(a.told_by for a in waiters if a.sold_out_seen_at)),
            "in_line_at_sold_out": len(in_line),
            "in_line_noticed": len(in_line_notices),
            "in_line_p99_ms": p99_ms(in_line_notices),
            "in_line_max_ms": None
            if not in_line_notices
            else round(max(in_line_notices) * 1000, 1),
            "room_state_sold_out_after_ms": None
            if room_sold_out_at is None or sold_out_commit is None
            else round((room_sold_out_at - sold_out_commit) * 1000, 1),
            "in_line_p50_ms": percentile_ms(in_line_notices, 0.5),
            "split": await notice_split(dsn, event_id, sold_out_commit, sink, listener.sold_out_at),
            "bench_loop_lag": bench_loop_lag,
            "room_fanout": await room_fanout_metrics(room_port),
        },
        "join_per_s": rate(sale.joins),
        "poll_per_s": rate(sale.polls),
        "polls": len(sale.polls),
        "poll_p99_ms": p99_ms(sale.poll_latency),
        "admitted": sum(1 for a in arrivals if a.admitted),
        # Where the first K arrivals lost their seats: reordered before the room placed
        # them (joins in flight), or placed among the first K and still without seats.
        "first_k": {
            "placed_beyond_k": sum(
                1 for a in first_k if kth is None or a.position is None or a.position > kth
            ),
            "admitted": sum(1 for a in first_k if a.admitted),
            "admitted_without_seats": sum(1 for a in first_k if a.admitted and not a.seats),
            "told_sold_out": sum(1 for a in first_k if a.sold_out_seen_at is not None),
        },
        "room_report": {
            "fifo_fidelity": report["winners"]["fifo_fidelity"],
            "spearman_after_opening": report["arrival_vs_admission"]["spearman_after_opening"],
            "waiting_time": report["waiting_time"],
            "abandoned": report["abandoned"],
        },
        "database": await bb.database_check(dsn, event_id, args.seats),
    }


async def run_without_room(
    args: argparse.Namespace,
    event_id: int,
    bookings_port: int,
    dsn: str,
    arrivals: list[Arrival],
) -> dict[str, Any]:
    sale = Sale(arrivals)
    bookings = Pool(bookings_port, args.connections)
    await bookings.open()
    started = time.perf_counter()
    tasks = await open_loop(
        arrivals, args.seconds, lambda a: direct_buyer(sale, bookings, event_id, a)
    )
    arrivals_done = time.perf_counter()
    await asyncio.wait(tasks, timeout=args.max_sale_s)
    sale.stop.set()
    bookings.close()
    k, fidelity = fifo_fidelity(arrivals, args.seats)
    return {
        **sale_figures(sale, arrivals, k, fidelity, started, arrivals_done),
        "admission_rate_error": None,
        "soldout_notice_p99_ms": None,
        "database": await bb.database_check(dsn, event_id, args.seats),
    }


def sale_figures(
    sale: Sale,
    arrivals: list[Arrival],
    k: int,
    fidelity: float | None,
    started: float,
    arrivals_done: float,
) -> dict[str, Any]:
    window = max(sale.confirmed_at) - min(sale.hold_started) if sale.confirmed_at else None
    return {
        "fifo_fidelity": None if fidelity is None else round(fidelity, 4),
        "k": k,
        "buyers_with_seats": sum(1 for a in arrivals if a.seats),
        "seats_sold": sum(a.seats for a in arrivals),
        "arrivals": len(arrivals),
        "arrival_rate_achieved_per_s": round(len(arrivals) / max(1e-9, arrivals_done - started), 1),
        "bookings": len(sale.confirmed_at),
        "bookings_per_s": None if not window else round(len(sale.confirmed_at) / window, 1),
        "errors": dict(sale.errors),
    }


class RoomCommitListener:
    """LISTENs on the room's channel from a thread with an event loop of its own (the
    bench's loop is busy with every visitor) and notes when the room's sold-out state
    was committed: ``notify_room`` is delivered at the room's commit."""

    def __init__(self, dsn: str, event_id: int) -> None:
        self.dsn = dsn
        self.event_id = event_id
        self.sold_out_at: float | None = None  # wall clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.dsn)

        def on_notify(*args: Any) -> None:
            at = time.time()
            room = json.loads(args[3])
            if room["event_id"] == self.event_id and room["sold_out"]:
                self.sold_out_at = self.sold_out_at or at

        try:
            await conn.add_listener("waiting_room", on_notify)
            await asyncio.get_running_loop().run_in_executor(None, self._stop.wait)
        finally:
            await conn.close()


class LoopLag:
    """How late the bench's own event loop runs a 10 ms timer: its timestamps of what
    visitors read are that late too."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - before - 0.01)

    def stop(self) -> dict[str, float | None]:
        if self._task is not None:
            self._task.cancel()
        return {
            "p50_ms": percentile_ms(self.lags, 0.5),
            "p99_ms": p99_ms(self.lags),
            "max_ms": None if not self.lags else round(max(self.lags) * 1000, 1),
        }


class TimingSink:
    """The outbox sink of ``hack/bench_bookings.py``, each consumer at a path of its own
    (``/<consumer>/internal/inbox``), that also notes when each first received the
    event's sold-out ``inventory.changed``: when bookings' relay sent it. It stands for
    the other services (search, events, analytics, notifications), each a process of its
    own in production, so it answers from a thread with an event loop of its own: on the
    bench's loop, busy with every visitor, each delivery waited for that loop, and the
    relay, which delivers to one consumer after another, reached the room late."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.sold_out_sent: dict[str, float] = {}  # consumer -> wall clock
        self.batches: dict[str, list[float]] = collections.defaultdict(list)  # consumer -> at
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def start(self) -> None:
        self._thread.start()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._serve(), self._loop))

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{consumer}/internal/inbox", self._inbox)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _inbox(self, request: web.Request) -> web.Response:
        at = time.time()
        consumer = request.match_info["consumer"]
        self.batches[consumer].append(at)
        batch = await request.json()
        for message in batch["messages"]:
            self.received[message["topic"]] += 1
            if (
                message["topic"] == "inventory.changed"
                and message["payload"].get("sold_out")
                and message["key"] == "1"
            ):
                self.sold_out_sent.setdefault(consumer, at)
        return web.json_response({"acknowledged": [m["id"] for m in batch["messages"]]})

    async def stop(self) -> None:
        if self.runner is not None:
            await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self._loop)
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


async def notice_split(
    dsn: str, event_id: int, commit: float | None, sink: TimingSink, room_commit: float | None
) -> dict[str, Any]:
    """Where the sold-out notice's time went, in ms after the sold-out commit, from the
    database's timestamps (one clock: bookings' outbox row, the relay's acknowledgement,
    the room's inbox record) and the sink's (the relay sending the same message to the
    other consumers, just before the room in its round)."""
    conn = await asyncpg.connect(dsn)
    try:
        # The room's messages: new rows (sent to every consumer at once) of the topics it
        # receives, and copies queued for it (sent under the original's id).
        room = """(o.consumer = 'waiting_room' OR (o.consumer IS NULL
                   AND o.topic IN ('inventory.changed', 'booking.changed')))"""
        row = await conn.fetchrow(
            f"""SELECT o.id, o.created_at, o.delivered_at, i.received_at,
                   (SELECT count(*) FROM bookings.outbox o
                    WHERE {room} AND o.id < s.id
                      AND (o.delivered_at IS NULL OR o.delivered_at > s.created_at))
                       AS room_backlog_ahead,
                   (SELECT count(DISTINCT o.delivered_at) FROM bookings.outbox o
                    WHERE {room}
                      AND o.delivered_at > s.created_at AND o.delivered_at <= s.delivered_at)
                       AS room_batches_until_delivered
               FROM bookings.outbox o
               CROSS JOIN LATERAL (SELECT o.id, o.created_at, o.delivered_at) s
               LEFT JOIN waiting_room.inbox i
                   ON i.source = 'bookings' AND i.message_id = coalesce(o.origin_id, o.id)
               WHERE {room} AND o.topic = 'inventory.changed'
                 AND o.key = $1 AND (o.payload->>'sold_out')::boolean
               ORDER BY o.id LIMIT 1""",
            str(event_id),
        )
        # The relay's batches to the room around the sell-out: when the room's inbox
        # transaction began, and when the relay recorded the acknowledgement.
        room_batches = await conn.fetch(
            f"""SELECT min(i.received_at) AS received, o.delivered_at, count(*) AS messages
               FROM bookings.outbox o
               JOIN waiting_room.inbox i
                   ON i.source = 'bookings' AND i.message_id = coalesce(o.origin_id, o.id)
               WHERE {room}
                 AND o.delivered_at BETWEEN to_timestamp($1 - 3) AND to_timestamp($1 + 5)
               GROUP BY o.delivered_at ORDER BY o.delivered_at""",
            commit,
        )
    finally:
        await conn.close()
    if row is None or commit is None:
        return {}

    def after(at: datetime | float | None) -> float | None:
        if at is None or commit is None:
            return None
        seconds = at.timestamp() if isinstance(at, datetime) else at
        return round((seconds - commit) * 1000, 1)

    sent = sink.sold_out_sent
    return {
        "published_ms": after(row["created_at"]),
        "relay_sent_to_first_other_consumer_ms": after(min(sent.values()) if sent else None),
        "relay_sent_to_last_other_consumer_ms": after(max(sent.values()) if sent else None),
        "room_inbox_transaction_ms": after(row["received_at"]),
        "room_committed_ms": after(room_commit),
        "relay_acknowledged_ms": after(row["delivered_at"]),
        "relay_rounds_ms": [
            after(at) for at in sink.batches.get("search", []) if -3 < at - commit < 5
        ],
        "room_batches_ms": [
            (after(b["received"]), after(b["delivered_at"]), b["messages"]) for b in room_batches
        ],
        "room_backlog_ahead": row["room_backlog_ahead"],
        "room_batches_until_delivered": row["room_batches_until_delivered"],
    }


async def sold_out_commit_time(dsn: str, event_id: int) -> float | None:
    """When the hold that took the last seat began (its transaction's now()), epoch s."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """SELECT i.capacity, (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings
                   WHERE event_id = $1 AND status IN ('held', 'confirmed')) AS taken,
                   (SELECT max(created_at) FROM bookings.bookings WHERE event_id = $1) AS last
               FROM bookings.inventory i WHERE i.event_id = $1""",
            event_id,
        )
    finally:
        await conn.close()
    if row is None or row["taken"] < row["capacity"] or row["last"] is None:
        return None
    return row["last"].timestamp()


async def room_fanout_metrics(room_port: int) -> dict[str, Any]:
    """The room's own account of its fan-outs (docs/metrics.md): for the change that sold
    the room out, how long its LISTEN callback waited for the loop (``heard_ms``), and
    each pass's time from then to its last stream written and the streams written
    (``memory``: in the callback; ``read``: after the database read); the other changes'
    totals beside it."""
    from prometheus_client.parser import text_string_to_metric_families

    pool = Pool(room_port, 1)
    await pool.open()
    try:
        answer = await pool.request(head("GET", "/metrics", ""))
    finally:
        pool.close()
    samples: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            kind = sample.labels.get("kind", "")
            samples[(sample.name, kind, sample.labels.get("path", ""))] = sample.value
    figures: dict[str, Any] = {}
    for kind in ("sold_out", "other"):
        heard_n = samples.get(("evently_waiting_room_change_heard_seconds_count", kind, ""), 0)
        heard_s = samples.get(("evently_waiting_room_change_heard_seconds_sum", kind, ""), 0.0)
        figure: dict[str, Any] = {
            "changes_heard": int(heard_n),
            "heard_ms_mean": round(heard_s / heard_n * 1000, 1) if heard_n else None,
        }
        for path in ("memory", "read"):
            base = "evently_waiting_room_fanout_seconds"
            n = samples.get((f"{base}_count", kind, path), 0)
            total = samples.get((f"{base}_sum", kind, path), 0.0)
            figure[path] = {
                "passes": int(n),
                "ms_mean": round(total / n * 1000, 1) if n else None,
                "streams_written": int(
                    samples.get(("evently_waiting_room_fanout_streams_total", kind, path), 0)
                ),
            }
        figures[kind] = figure
    batches = samples.get(("evently_waiting_room_join_batch_seconds_count", "", ""), 0)
    figures["join_batches"] = {
        "batches": int(batches),
        "ms_mean": round(
            samples.get(("evently_waiting_room_join_batch_seconds_sum", "", ""), 0.0)
            / batches
            * 1000,
            2,
        )
        if batches
        else None,
        "size_mean": round(
            samples.get(("evently_waiting_room_join_batch_joins_total", "", ""), 0.0) / batches, 1
        )
        if batches
        else None,
    }
    return figures


async def fetch_report(room_port: int, event_id: int, admin: str) -> dict[str, Any]:
    # booking.changed reaches the room through bookings' relay: wait until it has them.
    pool = Pool(room_port, 1)
    await pool.open()
    try:
        path = f"/api/v1/admin/events/{event_id}/waiting-room/report"
        report: dict[str, Any] = {}
        for _ in range(50):
            answer = await pool.request(head("GET", path, admin))
            if answer.status != 200:
                raise SystemExit(
                    f"the fairness report failed: {answer.status} {answer.body[:300]!r}"
                )
            report = answer.json()
            if report["winners"]["visitors_with_seats"] > 0:
                break
            await asyncio.sleep(0.2)
        return report
    finally:
        pool.close()


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.core import migrations
    from evently.core.embedded import start_embedded_postgres
    from evently.core.signing_keys import generate_signing_keys_json
    from evently.services import all_services

    raise_open_files()
    workdir = Path(tempfile.mkdtemp(prefix="evently-bench-room-"))
    processes = []
    server = None
    helper: TimingSink | None = None
    try:
        server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
        await migrations.migrate_dsn(dsn, [(s.name, s.schema) for s in all_services()])
        helper = TimingSink()
        await helper.start()
        sink = f"http://127.0.0.1:{helper.port}"
        users_port, bookings_port, room_port = bb.free_port(), bb.free_port(), bb.free_port()
        jwt_keys = generate_signing_keys_json()
        common = {
            "DATABASE_URL": dsn,
            "INTERNAL_API_KEY": bb.INTERNAL_KEY,
            "LOG_LEVEL": "WARNING",
            "USERS_URL": f"http://127.0.0.1:{users_port}",
            "SEARCH_URL": f"{sink}/search",
            "EVENTS_URL": f"{sink}/events",
            "ANALYTICS_URL": f"{sink}/analytics",
            "NOTIFICATIONS_URL": f"{sink}/notifications",
            "WAITING_ROOM_URL": f"http://127.0.0.1:{room_port}",
        }
        processes.append(
            bb.start_service(
                "users", {**common, "JWT_SIGNING_KEYS": jwt_keys}, users_port, workdir / "users.log"
            )
        )
        processes.append(
            bb.start_service(
                "bookings",
                {
                    **common,
                    "DB_POOL_MIN": "10",
                    "DB_POOL_MAX": "10",
                    "TICKET_SIGNING_KEYS": generate_signing_keys_json(),
                    "BOOKINGS_ADMISSION_REFRESH_S": "0.2",
                },
                bookings_port,
                workdir / "bookings.log",
            )
        )
        processes.append(
            bb.start_service(
                "waiting_room",
                {
                    **common,
                    "DB_POOL_MIN": "10",
                    "DB_POOL_MAX": "10",
                    "ADMISSION_SIGNING_KEYS": generate_signing_keys_json(),
                    "WAITING_ROOM_TICK_INTERVAL_S": str(args.tick_interval),
                    "WAITING_ROOM_STREAM_MAX_SUBSCRIBERS": str(args.arrivals + 100),
                },
                room_port,
                workdir / "waiting_room.log",
            )
        )
        await asyncio.gather(*(bb.wait_ready(p) for p in (users_port, bookings_port, room_port)))
        tokens = await asyncio.to_thread(mint_tokens, jwt_keys, 2 * args.arrivals + 1, 1000)
        admin = admin_token(jwt_keys)
        # The same buyers (quantities, order) in both runs; distinct accounts per run.
        with_room = make_arrivals(args, tokens[: args.arrivals])
        without_room = make_arrivals(args, tokens[args.arrivals : 2 * args.arrivals])
        spare = tokens[-1]

        await create_event(args, 1, [bookings_port, room_port], room_settings(args))
        await create_event(args, 2, [bookings_port], None)
        probe = Pool(room_port, 1)
        await probe.open()
        await wait_for(
            lambda: _state_is(probe, "/api/v1/events/1/waiting-room", admin, "open"),
            "the room to open",
        )
        probe.close()
        bookings_probe = Pool(bookings_port, 1)
        await bookings_probe.open()

        async def token_required() -> bool:
            answer = await bookings_probe.request(
                head("POST", "/api/v1/bookings", spare, f"Idempotency-Key: {uuid.uuid4().hex}"),
                b'{"event_id":1,"quantity":1}',
            )
            return answer.status == 403 and answer.code == "admission_required"

        await wait_for(token_required, "bookings to require admission tokens for event 1")
        bookings_probe.close()

        result_with = await run_with_room(
            args, 1, room_port, bookings_port, dsn, with_room, admin, helper
        )
        result_without = await run_without_room(args, 2, bookings_port, dsn, without_room)
        return {
            "benchmark": "waiting room flash sale",
            "command": "make bench-waiting-room BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'",
            "at": datetime.now(UTC).isoformat(),
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "arrivals": args.arrivals,
            "seconds": args.seconds,
            "seats": args.seats,
            "admission_rate_per_minute": args.admission_rate,
            "waiters": args.waiters,
            "poll_interval_s": args.poll_interval if args.waiters == "poll" else None,
            "with_room": result_with,
            "without_room": result_without,
            "outbox_delivered_to_sink": dict(helper.received),
        }
    finally:
        for process in processes:
            bb.stop(process)
        if helper is not None:
            await helper.stop()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        if args.logs:
            copy_logs(workdir, Path(args.logs))
        shutil.rmtree(workdir, ignore_errors=True)


def raise_open_files() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (the services inherit it): every waiter
    holds a stream of its own."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def copy_logs(workdir: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy(log, destination / log.name)


async def _state_is(pool: Pool, path: str, token: str, state: str) -> bool:
    answer = await pool.request(head("GET", path, token))
    return answer.status == 200 and answer.json()["state"] == state


def print_table(result: dict[str, Any]) -> None:
    keys = [
        "fifo_fidelity",
        "k",
        "buyers_with_seats",
        "seats_sold",
        "admission_rate_error",
        "soldout_notice_p99_ms",
        "join_per_s",
        "poll_per_s",
        "poll_p99_ms",
        "bookings_per_s",
        "arrival_rate_achieved_per_s",
    ]
    print(f"{'':32}{'with_room':>16}{'without_room':>16}")
    for key in keys:
        cells = [result[run].get(key) for run in ("with_room", "without_room")]
        print(f"{key:32}" + "".join(f"{'-' if c is None else c!s:>16}" for c in cells))
    notice = result["with_room"]["soldout_notice"]
    print(
        "sold-out notice, ms after the commit: "
        + ", ".join(f"{k} {v}" for k, v in notice["split"].items())
        + f", room's public state {notice['room_state_sold_out_after_ms']}"
        + f", in line p50 {notice['in_line_p50_ms']} p99 {notice['in_line_p99_ms']}"
        + f"; the bench's own loop lag {notice['bench_loop_lag']}"
    )
    print(f"the room's fan-outs: {notice['room_fanout']}")
    for run in ("with_room", "without_room"):
        db = result[run]["database"]
        print(
            f"{run}: oversell {db['oversell']}, undersell {db['undersell']}, "
            f"errors {result[run]['errors']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrivals", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="arrivals spread over")
    parser.add_argument("--seats", type=int, default=2_000)
    parser.add_argument(
        "--quick", action="store_true", help="a small sale: 1,000 arrivals over 5 s for 200 seats"
    )
    parser.add_argument(
        "--admission-rate",
        type=int,
        default=None,
        help="visitors admitted per minute (default: 3 x seats)",
    )
    parser.add_argument(
        "--waiters",
        choices=("stream", "poll"),
        default="stream",
        help="how waiters learn their status: the status stream (as a page would), or polls",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between polls (--waiters poll)"
    )
    parser.add_argument("--tick-interval", type=float, default=0.2, help="the room's ticker")
    parser.add_argument("--connections", type=int, default=128, help="per service")
    parser.add_argument("--max-sale-s", type=float, default=120.0, help="cap on one sale")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--logs", help="copy the services' logs into this directory")
    parser.add_argument("--output", default=str(ROOT / "bench-results" / "waiting_room.json"))
    args = parser.parse_args()
    if args.quick:
        args.arrivals, args.seconds, args.seats = 1_000, 5.0, 200
    if args.admission_rate is None:
        args.admission_rate = args.seats * 3
    result = asyncio.run(run(args))
    print_table(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")
    bad = [
        r
        for r in ("with_room", "without_room")
        if result[r]["database"]["oversell"] or result[r]["database"]["undersell"]
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
