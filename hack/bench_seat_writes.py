#!/usr/bin/env python3
"""What each index of ``bookings.event_seats`` costs the seat rows' writes (issue 18).

A seat of a seated sale is written four times: the hold's claim (status, booking,
stamp), the publication of its new status (``published_status``), the confirmation
(``sold``) and the next publication. This replays those four writes for every seat of a
``--seats`` event (holds of 1-4 seats, ``--batch`` holds per claim, a publication every
``--publish-every`` claims) on an embedded PostgreSQL, once per index layout, each on a
fresh copy of the table, and reports the time per seat and how many updates were HOT
(in place, no index entry). "CPU" is the server backend's own CPU time, less sensitive
to other jobs on the machine than the elapsed time. Every statement finds its rows
through the primary key, so a layout without an index changes what the writes maintain, not how
they find the rows: the index's share of the write cost.

    .venv/bin/python hack/bench_seat_writes.py [--seats 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

TABLE = """
DROP TABLE IF EXISTS seat_writes;
CREATE TABLE seat_writes (
    event_id bigint NOT NULL, seat_id text NOT NULL, status text NOT NULL,
    booking_id bigint, published_status text NOT NULL DEFAULT 'free',
    changed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, seat_id)) WITH (fillfactor = 70);
INSERT INTO seat_writes (event_id, seat_id, status)
SELECT e, 'S' || s / 5000 || '-R' || (s / 100) % 50 || '-' || s % 100, 'free'
FROM generate_series(1, 2) AS e, generate_series(0, $SEATS - 1) AS s;
"""

INDEXES = {
    "booking": "CREATE INDEX ON seat_writes (booking_id) WHERE booking_id IS NOT NULL",
    "changed": "CREATE INDEX ON seat_writes (event_id, changed)",
    "unpublished": "CREATE INDEX ON seat_writes (event_id)"
    " WHERE status <> published_status AND status <> 'blocked'",
}

LAYOUTS = {
    "all four (before migration 0017)": ["booking", "changed", "unpublished"],
    "without unpublished (today)": ["booking", "changed"],
    "without changed": ["booking", "unpublished"],
    "without booking": ["changed", "unpublished"],
    "primary key only": [],
}

CLAIM = """
UPDATE seat_writes SET status = 'held', booking_id = t.b, changed = $2
FROM unnest($3::text[], $4::bigint[]) AS t(s, b)
WHERE event_id = $1 AND seat_id = t.s AND status = 'free'
"""
PUBLISH = """
UPDATE seat_writes SET published_status = status
WHERE event_id = $1 AND seat_id = ANY ($2::text[])
"""
CONFIRM = """
UPDATE seat_writes SET status = 'sold'
WHERE event_id = $1 AND seat_id = ANY ($2::text[]) AND status = 'held'
"""


async def replay(
    conn: asyncpg.Connection, seats: list[str], args: argparse.Namespace
) -> tuple[float, float]:
    """The sale's four writes per seat: elapsed seconds, and the backend's CPU seconds."""
    import psutil

    backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
    cpu_before = sum(backend.cpu_times()[:2])
    rng = random.Random(18)
    holds: list[list[str]] = []
    at = 0
    while at < len(seats):
        size = rng.randint(1, 4)
        holds.append(seats[at : at + size])
        at += size
    spent = 0.0
    unpublished: list[str] = []
    unconfirmed: list[list[str]] = []
    for stamp, start in enumerate(range(0, len(holds), args.batch), start=1):
        batch = holds[start : start + args.batch]
        ids = [s for hold in batch for s in hold]
        bookings = [start + i for i, hold in enumerate(batch) for _ in hold]
        began = time.perf_counter()
        await conn.execute(CLAIM, 1, stamp, ids, bookings)
        unpublished += ids
        unconfirmed += batch
        if stamp % args.publish_every == 0:
            await conn.execute(PUBLISH, 1, unpublished)  # the holds, seen
            for hold in unconfirmed:
                await conn.execute(CONFIRM, 1, hold)
            await conn.execute(PUBLISH, 1, unpublished)  # the sales, seen
            unpublished, unconfirmed = [], []
        spent += time.perf_counter() - began
    return spent, sum(backend.cpu_times()[:2]) - cpu_before


async def run(args: argparse.Namespace) -> None:
    from evently.core.embedded import start_embedded_postgres

    workdir = Path(tempfile.mkdtemp(prefix="seat-writes-"))
    server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
    try:
        conn = await asyncpg.connect(dsn)
        figures: dict[str, list[float]] = {name: [] for name in LAYOUTS}
        cpu: dict[str, list[float]] = {name: [] for name in LAYOUTS}
        hot: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, indexes in LAYOUTS.items():
                await conn.execute(TABLE.replace("$SEATS", str(args.seats)))
                for index in indexes:
                    await conn.execute(INDEXES[index])
                await conn.execute("VACUUM ANALYZE seat_writes")
                seats = [r[0] for r in await conn.fetch(
                    "SELECT seat_id FROM seat_writes WHERE event_id = 1 ORDER BY seat_id"
                )]  # fmt: skip
                spent, used = await replay(conn, seats, args)
                figures[name].append(spent * 1e6 / len(seats))
                cpu[name].append(used * 1e6 / len(seats))
                await asyncio.sleep(0.6)  # the statistics collector's flush
                row = await conn.fetchrow(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                    " WHERE relname = 'seat_writes'"
                )
                hot[name] = row["n_tup_hot_upd"] / max(1, row["n_tup_upd"])
        await conn.close()
    finally:
        server.cleanup()  # type: ignore[attr-defined]
    print(f"{args.seats} seats, four writes each; median of {args.rounds} rounds")
    for name, values in figures.items():
        print(
            f"{name:22} elapsed {statistics.median(values):6.1f} us, server CPU"
            f" {statistics.median(cpu[name]):6.1f} us per seat; HOT {hot[name]:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=20, help="holds per claim")
    parser.add_argument("--publish-every", type=int, default=4, help="claims per publication")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
