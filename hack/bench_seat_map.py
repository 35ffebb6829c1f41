#!/usr/bin/env python3
"""Seat map benchmark: `make bench-seat-map` (BENCH_ARGS="--seats 100000 --rounds 5").

What it does, all on this machine:

1. starts an embedded PostgreSQL in a temporary directory, migrates every schema and
   creates one venue;
2. builds an upload body as a client would send it: ``--seats`` seats in 10 sections of
   rows of 500, each seat with a label and coordinates, zones per row, one seat in 50
   accessible and one in 100 blocked;
3. per round, times each step the upload route and its readers run, with the real
   functions: decoding the JSON and validating it (``seat_map_rules.parse_seat_map``),
   storing it as a new version (``seat_maps.add_version``), bookings' internal read
   (``seat_maps.version_json``, the stored text) and the SVG drawing;
4. prints the median and worst of each step as JSON (no thresholds: figures to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from bench_database import migrated_postgres

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = 10
ROW_LENGTH = 500


def upload_body(seats: int) -> bytes:
    """A realistic upload of ``seats`` seats (the last row may be shorter)."""
    per_section = -(-seats // SECTIONS)
    sections, left = [], seats
    for s in range(SECTIONS):
        rows, in_section = [], min(per_section, left)
        for r in range(-(-in_section // ROW_LENGTH)):
            count = min(ROW_LENGTH, in_section - r * ROW_LENGTH)
            row_seats = []
            for n in range(1, count + 1):
                seat: dict[str, Any] = {"label": str(n), "x": s * 5100 + n * 10, "y": 100 + r * 12}
                if n % 50 == 0:
                    seat["flags"] = ["accessible"]
                elif n % 100 == 1:
                    seat["flags"] = ["blocked"]
                row_seats.append(seat)
            zone = "front" if r < 5 else "rear"
            rows.append({"id": f"R{r + 1}", "zone": zone, "seats": row_seats})
        left -= in_section
        if rows:
            sections.append({"id": f"S{s + 1}", "rows": rows})
    document = {
        "name": f"Benchmark arena, {seats:,} seats",
        "zones": [{"id": "front", "name": "Front"}, {"id": "rear", "name": "Rear"}],
        "sections": sections,
    }
    return json.dumps(document).encode()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.events import seat_maps
    from evently.events.seat_map_rules import parse_seat_map
    from evently.events.seat_map_svg import render_seat_map_svg
    from evently.events.seating_models import VenueDetails
    from evently.events.venues import create_venue

    async with migrated_postgres("evently-bench-seat-map-") as dsn:
        conn = await asyncpg.connect(dsn)
        venue = await create_venue(
            conn, VenueDetails(name="Arena", address="1 Road", city="Bench", capacity=1_000_000)
        )
        body = upload_body(args.seats)
        timings: dict[str, list[float]] = {"validate": [], "store": [], "read": [], "svg": []}
        map_id = None
        stored_bytes = svg_bytes = 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            valid = parse_seat_map(json.loads(body))
            validated = time.perf_counter()
            if map_id is None:
                info = await seat_maps.create_seat_map(conn, venue.id, valid, source="upload")
                map_id = info.map_id
            else:
                info = await seat_maps.add_version(conn, map_id, valid, source="upload")
            stored = time.perf_counter()
            answer = await seat_maps.version_json(conn, map_id, info.version)
            read = time.perf_counter()
            svg = render_seat_map_svg(valid.document)
            drawn = time.perf_counter()
            timings["validate"].append(validated - started)
            timings["store"].append(stored - validated)
            timings["read"].append(read - stored)
            timings["svg"].append(drawn - read)
            stored_bytes, svg_bytes = len(answer), len(svg)
        await conn.close()
        return {
            "seats": args.seats,
            "rounds": args.rounds,
            "upload_bytes": len(body),
            "stored_version_bytes": stored_bytes,
            "svg_bytes": svg_bytes,
            "sellable_seats": info.stats.sellable_seats,
            **{
                f"{step}_s": {
                    "median": round(statistics.median(values), 3),
                    "max": round(max(values), 3),
                }
                for step, values in timings.items()
            },
            "upload_total_median_s": round(
                statistics.median(
                    v + s for v, s in zip(timings["validate"], timings["store"], strict=True)
                ),
                3,
            ),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "services"))
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
