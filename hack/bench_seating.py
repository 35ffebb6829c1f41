#!/usr/bin/env python3
"""Reserved-seating flash sale: `make bench-seating` (BENCH_ARGS="--seats 5000" to try).

On the platform ``bench_bookings.platform`` starts (embedded PostgreSQL; users, events
and bookings services; real tokens), one run:

1. builds a rectangular seat map through the events admin API (50,000 seats by
   default: 10 sections of 50 rows of 100 seats, the front fifth of the rows a zone of
   its own) and creates a seated event on it, and a general-admission event of the same
   capacity;
2. sells the general-admission event out: ``--buyers`` concurrent buyers, each on its
   keep-alive connection, hold 1-4 seats and confirm, again and again; a buyer account
   that reaches ``max_per_user`` (100) hands over to a fresh one;
3. sells the seated event out with the same buyers and the same loop: half the
   buyers (every other pair) hold specific seats (``seat_ids``), chosen from what they
   believe free (the map as it was ``--view-lag`` seconds ago, as a live availability
   view shows it, plus what their own 409s told them), so some collide and get 409
   ``seats_unavailable``; the others ask for best-available (``quantity``, a quarter
   of them with a ``zone``);
4. checks the database: no seat in two live bookings (``double_booked``), every taken
   seat row naming a booking that has it (``seat_mismatch``), no oversell; replays the
   seated sale in claim order to count the orphans best-available created when it
   could have avoided them;
5. writes bench-results/seating.json with ``seat_ratio`` (seat holds/s ÷
   general-admission holds/s), ``double_booked``, ``p99_ms`` and the rest.

Both sales wait afterwards for their tickets and for the outbox, so each starts on a
quiet machine. ``--profile PATH`` cProfiles the bookings processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import bench_bookings as bench

ROOT = Path(__file__).resolve().parent.parent
MAX_PER_USER = 100  # the events API's limit: accounts hand over when they reach it
ZONE_SHARE = 0.25  # best-available requests that name a zone
GIVE_UP_AFTER = 50  # refusals in a row before a buyer leaves


# ---------------------------------------------------------------- what buyers see


class SeatBoard:
    """The buyers' shared view of the seats: the map as it was ``lag`` seconds ago (what
    a live availability view shows, after its delivery and the buyer's click), plus
    what 409 answers said at once."""

    def __init__(self, rows: list[list[str]], lag: float) -> None:
        self.rows = rows  # seat ids per row, best rank first, in seat order
        self.row_of = {seat: i for i, row in enumerate(rows) for seat in row}
        self.taken: set[str] = set()
        self.free = [len(row) for row in rows]
        self.lag = lag
        self._news: deque[tuple[float, list[str]]] = deque()

    def heard(self, seats: list[str]) -> None:
        """Seats held by someone: the view shows them ``lag`` seconds from now."""
        self._news.append((time.perf_counter() + self.lag, seats))

    def take(self, seats: list[str]) -> None:
        for seat in seats:
            if seat not in self.taken:
                self.taken.add(seat)
                self.free[self.row_of[seat]] -= 1

    def refresh(self) -> None:
        now = time.perf_counter()
        while self._news and self._news[0][0] <= now:
            self.take(self._news.popleft()[1])

    def choose(self, rng: random.Random, quantity: int) -> list[str] | None:
        """``quantity`` adjacent seats believed free, in a row picked with a bias to
        the front, anywhere in it; None when no row seems to have them."""
        self.refresh()
        open_rows = [i for i, free in enumerate(self.free) if free >= quantity]
        for _ in range(10):
            if not open_rows:
                return None
            row = self.rows[open_rows[int(len(open_rows) * rng.random() ** 2)]]
            runs, start = [], None
            for i, seat in enumerate([*row, None]):
                if seat is not None and seat not in self.taken:
                    start = i if start is None else start
                elif start is not None:
                    if i - start >= quantity:
                        runs.append((start, i))
                    start = None
            if runs:
                first, end = rng.choice(runs)
                at = rng.randint(first, end - quantity)
                return row[at : at + quantity]
        return None


# ---------------------------------------------------------------- the buyers


@dataclass
class SeatSaleStats(bench.SaleStats):
    """``SaleStats`` plus what a seated sale adds: every hold request's latency by mode
    (whatever the answer), the moments holds succeeded, best-available bookings."""

    requests: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    hold_times: list[float] = field(default_factory=list)
    best_bookings: dict[int, str | None] = field(default_factory=dict)  # id -> zone
    holds: int = 0


class Sale:
    """The buyers of one sale: their loop (``buyer``, a ``bench_bookings.Buyer``) and the
    accounts they take turns with."""

    def __init__(
        self, tokens: list[str], board: SeatBoard | None, zones: list[str], stats: SeatSaleStats
    ) -> None:
        self.accounts = deque(tokens)
        self.board = board  # None: general admission
        self.zones = zones
        self.stats = stats

    def mode(self, number: int) -> str:
        if self.board is None:
            return "general"
        # Every other pair: with buyers spread over the replicas by number, each
        # replica gets both kinds.
        return "specific" if number // 2 % 2 == 0 else "best"

    async def buyer(
        self,
        event_id: int,
        number: int,
        port: int,
        token: str,
        start: asyncio.Event,
        deadline: float,
        max_rounds: int,
        stats: bench.SaleStats,
    ) -> None:
        """Hold 1-4 seats and confirm, again and again, until nothing is left (bounded);
        ``token`` is ignored: the buyer takes accounts from the shared queue."""
        rng, mode, s = random.Random(number), self.mode(number), self.stats
        conn = await bench.connect("127.0.0.1", port)
        if not self.accounts:
            return
        auth = f"Authorization: Bearer {self.accounts.popleft()}\r\n".encode()
        await conn.request(b"GET /api/v1/bookings?limit=1 HTTP/1.1\r\nHost: b\r\n" + auth)
        await start.wait()
        quantity, zone, refused = rng.randint(1, 4), None, 0
        try:
            for _ in range(max_rounds):
                if time.perf_counter() > deadline:
                    s.errors["deadline"] += 1
                    return
                body: dict[str, Any] = {"event_id": event_id, "quantity": quantity}
                if mode == "specific":
                    assert self.board is not None
                    seats = self.board.choose(rng, quantity)
                    if seats is None:
                        if quantity > 1:
                            quantity -= 1
                            continue
                        if not any(self.board.free) and not self.board._news:
                            return  # the map shows no free seat
                        await asyncio.sleep(self.board.lag / 4)
                        refused += 1
                        if refused >= GIVE_UP_AFTER:
                            s.errors["specific buyer found no seat"] += 1
                            return
                        continue
                    body = {"event_id": event_id, "seat_ids": seats}
                elif mode == "best" and zone is not None:
                    body["zone"] = zone
                head = (
                    b"POST /api/v1/bookings HTTP/1.1\r\nHost: b\r\n"
                    b"Content-Type: application/json\r\n"
                    + auth
                    + b"Idempotency-Key: "
                    + uuid.uuid4().hex.encode()
                    + b"\r\n"
                )
                t0 = time.perf_counter()
                status, payload = await conn.request(head, json.dumps(body).encode())
                t1 = time.perf_counter()
                s.requests.setdefault(mode, []).append(t1 - t0)
                answer = json.loads(payload)
                code = "held" if status == 201 else str(answer.get("code"))
                s.outcomes[f"{mode} {code}"] += 1
                if status == 201:
                    s.holds += 1
                    s.hold_latency.append(t1 - t0)
                    s.hold_times.append(t1)
                    held = [seat["id"] for seat in answer["seats"]]
                    if self.board is not None:
                        self.board.heard(held)
                    if mode == "best":
                        s.best_bookings[answer["id"]] = zone
                    await self.confirm(conn, auth, answer["id"], answer["quantity"], t0, t1)
                    quantity, refused = rng.randint(1, 4), 0
                    zone = (
                        rng.choice(self.zones) if self.zones and rng.random() < ZONE_SHARE else None
                    )
                    continue
                if code == "per_user_limit_exceeded":
                    if not self.accounts:
                        return
                    auth = f"Authorization: Bearer {self.accounts.popleft()}\r\n".encode()
                    continue
                if code == "sold_out":
                    s.sold_out_latency.append(t1 - t0)
                    available = answer.get("available", 0)
                    if available <= 0:
                        return
                    quantity = min(quantity, available)
                    continue
                if code == "no_seats_together":
                    if zone is not None:
                        zone = None
                    elif quantity > 1:
                        quantity -= 1
                    else:
                        return  # best-available finds no seat at all
                    continue
                refused += 1
                if code == "seats_unavailable" and self.board is not None:
                    self.board.take(answer.get("seat_ids", []))  # the buyer learns at once
                else:
                    s.errors[f"hold {status} {code}"] += 1
                    await asyncio.sleep(0.05)
                if refused >= GIVE_UP_AFTER:
                    s.errors[f"{mode} buyer gave up"] += 1
                    return
            s.errors["round limit"] += 1
        finally:
            conn.transport.close()  # type: ignore[union-attr]

    async def confirm(
        self,
        conn: bench.HttpConnection,
        auth: bytes,
        booking_id: int,
        seats: int,
        t0: float,
        t1: float,
    ) -> None:
        """Confirm the hold made between ``t0`` and ``t1`` (perf_counter)."""
        s = self.stats
        head = b"POST /api/v1/bookings/%d/confirm HTTP/1.1\r\nHost: b\r\n" % booking_id
        status, payload = await conn.request(head + auth)
        t2 = time.perf_counter()
        if status != 200:
            s.errors[f"confirm {status} {bench._code(payload)}"] += 1
            return
        s.confirm_latency.append(t2 - t1)
        s.booking_latency.append(t2 - t0)
        s.bookings += 1
        s.seats += seats
        s.last_confirm_at = t2


# ---------------------------------------------------------------- the venue


def map_shape(seats: int, sections: int, seats_per_row: int) -> dict[str, Any]:
    """The rectangular builder's body for about ``seats`` seats; the front fifth of the
    rows is the "front" zone."""
    rows = max(1, round(seats / (sections * seats_per_row)))
    front = max(1, rows // 5)
    zones = [{"zone": {"id": "front", "name": "Front"}, "from_row": 1, "to_row": front}]
    if rows > front:
        zones.append({"zone": {"id": "rear", "name": "Rear"}, "from_row": front + 1,
                      "to_row": rows})  # fmt: skip
    return {"name": f"Bench hall {uuid.uuid4().hex[:6]}", "sections": sections, "rows": rows,
            "seats_per_row": seats_per_row, "zones": zones}  # fmt: skip


async def seated_event(source: bench.EventSource, shape: dict[str, Any]) -> tuple[int, dict]:
    """A venue, its rectangular map and a seated event on it: the event id and the map
    document as the public API serves it."""
    venue = await source.admin_post(
        "/api/v1/admin/venues",
        {"name": f"Bench hall {uuid.uuid4().hex[:6]}", "address": "1 Loop Rd",
         "city": "Localhost", "capacity": 100_000},
    )  # fmt: skip
    built = await source.admin_post(
        f"/api/v1/admin/venues/{venue['id']}/seat-maps/rectangular", shape
    )
    seating = {"map_id": built["map_id"], "map_version": built["version"]}
    sellable = built["stats"]["sellable_seats"]
    event_id = await source.create(
        sellable, venue=None, capacity=None, venue_id=venue["id"], seating=seating
    )
    assert source.events_port is not None
    conn = await bench.connect("127.0.0.1", source.events_port)
    try:
        status, payload = await conn.request(
            f"GET /api/v1/events/{event_id}/seat-map HTTP/1.1\r\nHost: e\r\n".encode()
        )
    finally:
        conn.transport.close()  # type: ignore[union-attr]
    if status != 200:
        raise SystemExit(f"the seat map of event {event_id}: {status} {payload[:300]!r}")
    return event_id, json.loads(payload)["document"]


def board_rows(seats: list[Any]) -> list[list[str]]:
    """Seat ids per row (``ResolvedSeat``s), best rank first, each row in seat order."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for seat in seats:
        if seat.sellable:
            rows.setdefault((seat.section, seat.row), []).append(seat)
    ordered = sorted(rows.values(), key=lambda row: row[0].rank)
    return [[seat.id for seat in sorted(row, key=lambda seat: seat.x)] for row in ordered]


# ---------------------------------------------------------------- checks


async def seat_check(dsn: str, event_id: int) -> dict[str, int]:
    """Seats in more than one live booking (from the bookings' own seat lists), and seat
    rows that disagree with the bookings (a taken seat whose booking does not list it,
    or a live booking's seat that is not taken by it)."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """WITH booked AS (
                   SELECT b.id, s->>'id' AS seat_id
                   FROM bookings.bookings b, jsonb_array_elements(b.seats::jsonb) s
                   WHERE b.event_id = $1 AND b.status IN ('held', 'confirmed'))
               SELECT
                 (SELECT count(*) FROM (SELECT seat_id FROM booked GROUP BY seat_id
                                        HAVING count(*) > 1) d) AS double_booked,
                 (SELECT count(*) FROM bookings.event_seats e
                  WHERE e.event_id = $1 AND e.status IN ('held', 'sold')
                    AND NOT EXISTS (SELECT 1 FROM booked k
                                    WHERE k.id = e.booking_id AND k.seat_id = e.seat_id))
                 + (SELECT count(*) FROM booked k
                    WHERE NOT EXISTS (SELECT 1 FROM bookings.event_seats e
                                      WHERE e.event_id = $1 AND e.seat_id = k.seat_id
                                        AND e.booking_id = k.id)) AS seat_mismatch,
                 (SELECT count(*) FROM bookings.event_seats
                  WHERE event_id = $1 AND status = 'free') AS free_seats""",
            event_id,
        )
    finally:
        await conn.close()
    return {k: int(v) for k, v in row.items()}


@dataclass(frozen=True)
class Overlay:
    """The seats in ``taken`` but not in ``without``, as a container."""

    taken: set[str]
    without: set[str]

    def __contains__(self, seat: object) -> bool:
        return seat in self.taken and seat not in self.without


async def orphan_replay(
    dsn: str, event_id: int, index: Any, best_bookings: dict[int, str | None]
) -> dict[str, int]:
    """Replays the sale claim by claim and counts the best-available holds that left an
    orphan (``SeatIndex.creates_orphan``: a single free seat between the hold's seats
    and the next taken or blocked seat or the block's edge) once their batch committed,
    and among them those that were avoidable: when the hold was claimed, a placement
    without one existed (the rule's answer). Claim order is booking id order (an
    event's batches are claimed one at a time under its lock); a batch is the bookings
    of one transaction (``created_at`` is its start), so seats taken by a later request
    of the same batch do count."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, created_at, seats FROM bookings.bookings WHERE event_id = $1 ORDER BY id",
            event_id,
        )
    finally:
        await conn.close()
    batches: dict[Any, list[tuple[int, list[str]]]] = {}
    for row in rows:
        seats = [seat["id"] for seat in json.loads(row["seats"])]
        batches.setdefault(row["created_at"], []).append((row["id"], seats))
    taken: set[str] = set()
    created = avoidable = 0
    for batch in sorted(batches.values(), key=lambda bookings: bookings[0][0]):
        taken.update(seat for _, seats in batch for seat in seats)  # the batch committed
        for k, (booking_id, seats) in enumerate(batch):
            if booking_id not in best_bookings or not index.creates_orphan(taken, seats):
                continue
            created += 1
            # What was taken when this hold was claimed: not the batch's later seats.
            later = {seat for _, others in batch[k:] for seat in others}
            before = Overlay(taken, later)
            better = index.choose(before, len(seats), zone=best_bookings[booking_id])
            avoidable += better is not None and not index.creates_orphan(before, better)
    return {"created": created, "avoidable": avoidable, "best_available_holds": len(best_bookings)}


# ---------------------------------------------------------------- the run


def rates(stats: SeatSaleStats, window: float) -> dict[str, Any]:
    """Holds per second over the sale, and over the part before 95 % of its holds."""
    ordered = sorted(stats.hold_times)
    head = ordered[: max(1, math.ceil(len(ordered) * 0.95))] if ordered else []
    head_s = head[-1] - stats.first_request_at if head else 0.0
    return {
        "holds": stats.holds,
        "window_s": round(window, 3),
        "holds_per_s": round(stats.holds / window, 1),
        "holds_per_s_first_95pct": round(len(head) / head_s, 1) if head_s > 0 else 0.0,
    }


async def one_sale(
    args: argparse.Namespace,
    running: bench.Platform,
    event_id: int,
    capacity: int,
    board: SeatBoard | None,
    zones: list[str],
) -> tuple[SeatSaleStats, dict[str, Any]]:
    """Sells ``event_id`` out, then waits for its tickets and outbox; the figures."""
    stats = SeatSaleStats()
    sale = Sale(running.tokens, board, zones, stats)
    if args.pg_stats:
        await pg_statements(running.dsn, reset=True)
    claims_before = await claim_counters(running.ports)
    sale_args = argparse.Namespace(**{**vars(args), "seats": capacity})
    stats, cpu = await bench.sell_out(
        sale_args, event_id, running.ports, running.tokens, running.pids, running.workdir,
        buy=sale.buyer, stats=stats,
    )  # fmt: skip
    assert isinstance(stats, SeatSaleStats)
    statements = await pg_statements(running.dsn, holds=stats.holds) if args.pg_stats else None
    claims_after = await claim_counters(running.ports)
    claims = {k: round(v - claims_before.get(k, 0)) for k, v in claims_after.items()}
    window = max(1e-9, (stats.last_confirm_at or time.perf_counter()) - stats.first_request_at)
    database = await bench.database_check(running.dsn, event_id, capacity)
    await bench.tickets_after_sale(running.dsn, event_id, stats, running.pids, running.workdir)
    await bench.outbox_after_sale(running.dsn, stats, running.pids, running.workdir)
    requests = [t for samples in stats.requests.values() for t in samples]
    return stats, {
        "event_id": event_id,
        "capacity": capacity,
        **rates(stats, window),
        "ended": "sold out" if database["confirmed_seats"] == capacity else
                 f"not sold out: {capacity - database['confirmed_seats']} seats left",
        "latency": {
            "hold_requests": bench.percentiles(requests),
            **{f"hold_requests_{m}": bench.percentiles(v) for m, v in stats.requests.items()},
            "held": bench.percentiles(stats.hold_latency),
            "confirm": bench.percentiles(stats.confirm_latency),
        },
        "outcomes": dict(stats.outcomes),
        "errors": dict(stats.errors),
        "database": database,
        "cpu_ms_per_hold": {k: round(v * 1000 / max(1, stats.holds), 3) for k, v in cpu.items()},
        "claims": claims,
        **({"pg_statements": statements} if statements is not None else {}),
    }  # fmt: skip


CLAIM_METRICS = {
    "evently_bookings_best_available_retries_total": "best_available_retried",
    "evently_bookings_lock_wait_seconds_count": "hold_calls",
}


async def claim_counters(ports: list[int]) -> dict[str, float]:
    """The bookings processes' claim counters, summed: hold calls (batches, one locked
    call each; every operation's lock waits share the histogram, holds are labelled),
    best-available picks refused and picked again, and answers by outcome."""
    totals: Counter[str] = Counter()
    for port in ports:
        conn = await bench.connect("127.0.0.1", port)
        try:
            _, body = await conn.request(b"GET /metrics HTTP/1.1\r\nHost: b\r\n")
        finally:
            conn.transport.close()  # type: ignore[union-attr]
        for line in body.decode().splitlines():
            name, _, value = line.rpartition(" ")
            metric = name.partition("{")[0]
            if metric in CLAIM_METRICS and ('operation="hold"' in name or "{" not in name):
                totals[CLAIM_METRICS[metric]] += float(value)
            elif metric == "evently_bookings_total":
                totals["answered " + name.partition('outcome="')[2].partition('"')[0]] += float(
                    value
                )
    return dict(totals)


PG_STATEMENTS = """
SELECT toplevel, calls, rows, total_exec_time, shared_blks_hit, shared_blks_dirtied,
       wal_records, wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC LIMIT 40
"""


async def pg_statements(dsn: str, *, reset: bool = False, holds: int = 1) -> list[dict[str, Any]]:
    """``--pg-stats``: the sale's statements by execution time (nested ones, inside our
    SQL functions, too: their time is also in their caller's), per hold; or a reset."""
    connection = await asyncpg.connect(dsn)
    try:
        if reset:
            await connection.execute("SELECT pg_stat_statements_reset()")
            return []
        rows = await connection.fetch(PG_STATEMENTS)
    finally:
        await connection.close()
    return [
        {
            "toplevel": r["toplevel"],
            "calls": r["calls"],
            "rows": r["rows"],
            "total_ms": round(r["total_exec_time"], 1),
            "ms_per_hold": round(r["total_exec_time"] / max(1, holds), 4),
            "blks_hit_per_call": round(r["shared_blks_hit"] / max(1, r["calls"]), 1),
            "blks_dirtied": r["shared_blks_dirtied"],
            "wal_bytes_per_hold": round(int(r["wal_bytes"]) / max(1, holds)),
            "query": r["query"],
        }
        for r in rows
    ]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.bookings.best_available import SeatIndex
    from evently.core.seat_maps import SeatMapDocument, resolved_seats

    shape = map_shape(args.seats, args.sections, args.seats_per_row)
    seats = shape["sections"] * shape["rows"] * shape["seats_per_row"]
    # Every account holds up to MAX_PER_USER seats of an event; both sales reuse them.
    accounts = args.buyers + math.ceil(seats / (MAX_PER_USER - 4))
    args.event_source = "events"
    async with bench.platform(args, accounts) as running:
        seated_id, document = await seated_event(running.source, shape)
        seat_list = list(resolved_seats(SeatMapDocument.model_validate(document)))
        capacity = sum(seat.sellable for seat in seat_list)
        general_id = await running.source.create(capacity)
        _, general = await one_sale(args, running, general_id, capacity, None, [])
        board = SeatBoard(board_rows(seat_list), args.view_lag)
        zones = [zone["id"] for zone in document["zones"]]
        seated_stats, seated = await one_sale(args, running, seated_id, capacity, board, zones)
        seated["database"].update(await seat_check(running.dsn, seated_id))
        index = SeatIndex.build(seat_list)
        orphans = await orphan_replay(running.dsn, seated_id, index, seated_stats.best_bookings)
        p99 = seated["latency"]["hold_requests"]
    return {
        **bench.report_header("reserved seating flash sale", "bench-seating"),
        "seats": capacity,
        "map": {k: shape[k] for k in ("sections", "rows", "seats_per_row")},
        "buyers": args.buyers,
        "accounts": accounts,
        "replicas": args.replicas,
        "view_lag_s": args.view_lag,
        # The headline figures (the seated sale's, against general admission's).
        "seat_ratio": round(seated["holds_per_s"] / max(1e-9, general["holds_per_s"]), 3),
        "seat_ratio_first_95pct": round(
            seated["holds_per_s_first_95pct"] / max(1e-9, general["holds_per_s_first_95pct"]), 3
        ),
        "seat_holds_per_s": seated["holds_per_s"],
        "ga_holds_per_s": general["holds_per_s"],
        "p50_ms": p99["p50_ms"],
        "p95_ms": p99["p95_ms"],
        "p99_ms": p99["p99_ms"],
        "double_booked": seated["database"]["double_booked"],
        "seat_mismatch": seated["database"]["seat_mismatch"],
        "oversell": seated["database"]["oversell"] + general["database"]["oversell"],
        "orphans_avoidable": orphans["avoidable"],
        "orphans": orphans,
        "ended": {"seated": seated["ended"], "general_admission": general["ended"]},
        "seated": seated,
        "general_admission": general,
    }


def print_table(result: dict[str, Any]) -> None:
    seated, general = result["seated"], result["general_admission"]
    rows = [
        ("seats / buyers / accounts / replicas",
         f"{result['seats']} / {result['buyers']} / {result['accounts']} / "
         f"{result['replicas']}"),
        ("seat holds/s (window)", f"{seated['holds_per_s']} ({seated['window_s']} s, "
         f"{seated['holds']} holds)"),
        ("GA holds/s (window)", f"{general['holds_per_s']} ({general['window_s']} s, "
         f"{general['holds']} holds)"),
        ("seat_ratio (goal >= 0.5)", f"{result['seat_ratio']} (first 95 % of holds: "
         f"{result['seat_ratio_first_95pct']})"),
        ("seat hold p50/p95/p99 (goal p99 < 150)",
         f"{result['p50_ms']} / {result['p95_ms']} / {result['p99_ms']} ms"),
        ("GA hold p50/p95/p99", " / ".join(
            str(general["latency"]["hold_requests"][k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
         + " ms"),
        ("double_booked / seat_mismatch / oversell",
         f"{result['double_booked']} / {result['seat_mismatch']} / {result['oversell']}"),
        ("orphans by best-available (avoidable)",
         f"{result['orphans']['created']} ({result['orphans']['avoidable']}) of "
         f"{result['orphans']['best_available_holds']} holds"),
        ("ended", f"seated {seated['ended']}; GA {general['ended']}"),
        ("seated outcomes", ", ".join(f"{k}: {v}" for k, v in seated["outcomes"].items())),
        ("errors", str(seated["errors"] or "none") + " / GA " + str(general["errors"] or "none")),
        ("seated claims", ", ".join(f"{k}: {v}" for k, v in seated["claims"].items())),
        ("CPU ms per hold, seated", str(seated["cpu_ms_per_hold"])),
        ("CPU ms per hold, GA", str(general["cpu_ms_per_hold"])),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print("\nReserved-seating flash sale (bench-seating)")
    print("-" * (width + 60))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("-" * (width + 60))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=50_000, help="about this many (a rectangle)")
    parser.add_argument("--sections", type=int, default=10)
    parser.add_argument("--seats-per-row", type=int, default=100)
    parser.add_argument("--buyers", type=int, default=200, help="concurrent buyers, both sales")
    parser.add_argument("--duration", type=float, default=180.0, help="cap on each sale, s")
    parser.add_argument("--replicas", type=int, default=2, help="bookings processes")
    parser.add_argument("--pool", type=int, default=10, help="DB pool size per replica")
    parser.add_argument("--view-lag", type=float, default=1.0,
                        help="how old the specific-seat buyers' view of the map is, s")  # fmt: skip
    parser.add_argument("--no-relay", action="store_true", help="diagnosis: no outbox relay")
    parser.add_argument("--profile", help="write a cProfile of each bookings process here")
    parser.add_argument("--pg-stats", action="store_true",
                        help="diagnosis: pg_stat_statements per sale, in the JSON")  # fmt: skip
    parser.add_argument("--output", default=str(ROOT / "bench-results" / "seating.json"))
    args = parser.parse_args()
    if min(args.seats, args.sections, args.seats_per_row, args.buyers) < 1:
        parser.error("--seats, --sections, --seats-per-row and --buyers must be positive")
    result = asyncio.run(run(args))
    bench.write_report(result, Path(args.output), print_table)
    if result["double_booked"] or result["seat_mismatch"] or result["oversell"]:
        print("FAIL: a seat double-booked, seat rows disagree, or oversold", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
