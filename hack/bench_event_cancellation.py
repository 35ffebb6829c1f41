#!/usr/bin/env python3
"""Event cancellation benchmark: `make bench-cancel` (BENCH_ARGS="--bookings 10000").

What it does, all on this machine:

1. starts an embedded PostgreSQL in a temporary directory and migrates every schema;
2. writes one published event with N confirmed, paid bookings (2 seats each, two valid
   tickets each, sold-seat shards filled) straight into the bookings schema: set-up,
   not the measurement;
3. marks the event cancelled and runs the real canceller
   (``event_cancellation.cancel_bookings_of_cancelled_events``) with the real settings
   (``BOOKINGS_EVENT_CANCEL_BATCH_SIZE``, default 500);
4. meanwhile a prober plays a buyer's transaction: it takes the event's advisory lock
   over and over and records how long it waited each time;
5. checks the database afterwards (every booking cancelled, one refund each, seats and
   sold counters back to 0, no valid ticket) and prints the total time, the batches,
   the longest lock hold (measured inside the transaction, from the lock being granted
   to the batch's last statement) and the prober's longest wait.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
from bench_database import migrated_postgres

ROOT = Path(__file__).resolve().parent.parent

SEED = """
INSERT INTO bookings.inventory (event_id, event_version, status, target_capacity, capacity,
    reserved, starts_at, ends_at, sale_opens_at, unit_price, currency)
VALUES ($1, 1, 'published', $2::int * $3::int, $2::int * $3::int, $2::int * $3::int,
        now() + interval '30 days', now() + interval '30 days 3 hours',
        now() - interval '1 day', 49.90, 'EUR');
"""
SEED_BOOKINGS = """
INSERT INTO bookings.bookings (event_id, user_id, quantity, status, unit_price, currency,
    hold_expires_at, confirmed_at, payment_reference, version)
SELECT $1, 100000 + g, $3::int, 'confirmed', 49.90, 'EUR', now(), now(), 'pi_bench_' || g, 2
FROM generate_series(1, $2::int) AS g
"""
SEED_SOLD = """
INSERT INTO bookings.inventory_sold (event_id, shard, sold)
SELECT $1, bookings.sold_shard(id), sum(quantity) FROM bookings.bookings
WHERE event_id = $1 GROUP BY 2
"""
SEED_TICKETS = """
INSERT INTO bookings.tickets (booking_id, event_id, user_id, seat, code)
SELECT b.id, b.event_id, b.user_id, s, 'bench-' || b.id || '-' || s
FROM bookings.bookings b, generate_series(1, b.quantity) AS s WHERE b.event_id = $1
"""
CHECK = """
SELECT (SELECT count(*) FROM bookings.bookings WHERE event_id = $1
        AND status <> 'cancelled') AS not_cancelled,
       (SELECT count(*) FROM bookings.refunds WHERE event_id = $1) AS refunds,
       (SELECT count(DISTINCT booking_id) FROM bookings.refunds WHERE event_id = $1)
           AS refunded_bookings,
       (SELECT reserved FROM bookings.inventory WHERE event_id = $1) AS reserved,
       bookings.sold_seats($1) AS sold,
       (SELECT count(*) FROM bookings.tickets WHERE event_id = $1
        AND status = 'valid') AS valid_tickets,
       (SELECT count(*) FROM bookings.outbox WHERE topic = 'booking.changed') AS booking_messages,
       (SELECT count(*) FROM bookings.outbox WHERE topic = 'refund.changed') AS refund_messages
"""


async def probe_lock(dsn: str, event_id: int, done: asyncio.Event) -> list[float]:
    """Take the event's lock as a buyer's transaction would, until ``done``; the waits."""
    from evently.bookings.inventory import event_lock

    key = event_lock(event_id)
    conn = await asyncpg.connect(dsn)
    waits: list[float] = []
    try:
        while not done.is_set():
            async with conn.transaction():
                started = time.perf_counter()
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
                waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.001)
    finally:
        await conn.close()
    return waits


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.bookings import event_cancellation
    from evently.bookings.settings import BookingsSettings
    from evently.core.db import init_connection
    from evently.core.settings import load_settings

    async with migrated_postgres("evently-bench-cancel-") as dsn:
        event_id = 1
        conn = await asyncpg.connect(dsn)
        await conn.execute(SEED, event_id, args.bookings, args.quantity)
        await conn.execute(SEED_BOOKINGS, event_id, args.bookings, args.quantity)
        await conn.execute(SEED_SOLD, event_id)
        await conn.execute(SEED_TICKETS, event_id)
        await conn.execute("VACUUM ANALYZE")
        await conn.execute(
            "UPDATE bookings.inventory SET status = 'cancelled' WHERE event_id = $1", event_id
        )

        settings = load_settings(
            BookingsSettings,
            {
                "DATABASE_URL": dsn,
                "BOOKINGS_EVENT_CANCEL_BATCH_SIZE": str(args.batch_size),
                "INTERNAL_API_KEY": "bench-internal-key-not-used",
            },
        )
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4, init=init_connection)
        ctx = SimpleNamespace(pool=pool, settings=settings)
        done = asyncio.Event()
        prober = asyncio.create_task(probe_lock(dsn, event_id, done))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        report = await event_cancellation.cancel_bookings_of_cancelled_events(ctx)  # type: ignore[arg-type]
        total_s = time.perf_counter() - started
        done.set()
        waits = await prober
        await pool.close()
        check = dict(await conn.fetchrow(CHECK, event_id))
        await conn.close()
        ok = (
            check["not_cancelled"] == 0
            and check["refunds"] == check["refunded_bookings"] == args.bookings
            and check["reserved"] == 0
            and check["sold"] == 0
            and check["valid_tickets"] == 0
        )
        return {
            "bookings": args.bookings,
            "batch_size": args.batch_size,
            "cancelled": report.cancelled,
            "refunds": report.refunds,
            "batches": report.batches,
            "total_s": round(total_s, 3),
            "bookings_per_s": round(report.cancelled / total_s),
            "longest_lock_hold_ms": round(report.longest_lock_hold_s * 1000, 1),
            "median_lock_hold_ms": round(statistics.median(report.lock_holds_s) * 1000, 1),
            "lock_holds_ms": [round(h * 1000) for h in report.lock_holds_s],
            "prober_lock_waits": len(waits),
            "prober_longest_wait_ms": round(max(waits) * 1000, 1) if waits else None,
            "prober_median_wait_ms": round(statistics.median(waits) * 1000, 2) if waits else None,
            "database": check,
            "ok": ok,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=10_000)
    parser.add_argument("--quantity", type=int, default=2, help="seats per booking")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "services"))
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
