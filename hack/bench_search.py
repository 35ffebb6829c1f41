#!/usr/bin/env python3
"""Search benchmark: 100,000 generated events on the PostgreSQL backend.

1. Bulk-loads the generated events into ``search.documents`` (COPY; setup only).
2. Measures indexing throughput through the real indexing path: outbox batches of
   event.changed / inventory.changed applied by the inbox (``core.inbox.apply_batch``
   with the search handlers), exactly what ``POST /internal/inbox`` runs.
3. Serves the real search app on 127.0.0.1 and measures latency through HTTP for a
   query mix: ``text``, ``text_filters`` (text + filters; facets are always computed),
   ``facets`` (no text: a filtered listing with facets) and ``suggest``.

Uses ``DATABASE_URL``'s server if set (in a scratch database it drops afterwards),
else an embedded PostgreSQL in a temporary directory. Every loop is bounded in count
and in time. Writes ``bench-results/search.json``.

    make bench-search                       # defaults
    make bench-search BENCH_ARGS="--documents 20000 --queries 100"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp import web  # noqa: E402

from evently.core import migrations  # noqa: E402
from evently.core.app import bind_socket, create_app  # noqa: E402
from evently.core.db import create_pool  # noqa: E402
from evently.core.inbox import InboxBatch, apply_batch  # noqa: E402
from evently.core.settings import load_settings  # noqa: E402
from evently.search import queries  # noqa: E402
from evently.search.backend_postgres import PostgresBackend  # noqa: E402
from evently.search.indexing import inbox_handlers  # noqa: E402
from evently.search.service import SERVICE  # noqa: E402
from evently.search.settings import SearchSettings  # noqa: E402

TARGET_CATEGORY, TARGET_P95_MS = "text_filters", 50.0

GENRES = {
    "concert": ["Jazz", "Rock", "Blues", "Soul", "Indie", "Metal", "Folk", "Pop", "Swing"],
    "festival": ["Summer", "Harbour", "Street Food", "Film", "Electronic", "Lantern"],
    "theatre": ["Hamlet", "Macbeth", "Cabaret", "Improv", "Musical", "Puppet"],
    "comedy": ["Stand-up", "Comedy", "Satire", "Open Mic"],
    "opera": ["Opera", "Aida", "Tosca", "Carmen", "Figaro"],
    "sports": ["Marathon", "Derby", "Basketball", "Tennis", "Boxing"],
    "conference": ["Python", "Cloud", "Data", "Security", "Design"],
    "dance": ["Ballet", "Tango", "Salsa", "Flamenco", "Hip-Hop"],
    "family": ["Circus", "Magic", "Puppet", "Science", "Zoo"],
    "exhibition": ["Photography", "Impressionist", "Sculpture", "Design", "Vintage Car"],
}
SHAPES = [
    "{g} Night",
    "{g} Festival",
    "{g} Evening",
    "{g} Live",
    "The Great {g} Show",
    "{g} Weekend",
    "{g} Matinee",
    "{g} Gala",
    "{g} Sessions",
    "{g} Summit",
]
CITIES = [
    "Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf",
    "Leipzig", "Dresden", "Wien", "Zürich", "Genève", "Paris", "Lyon", "Marseille",
    "Bruxelles", "Amsterdam", "Rotterdam", "København", "Stockholm", "Oslo", "Helsinki",
    "Madrid", "Barcelona", "Sevilla", "Lisboa", "Porto", "Roma", "Milano", "Napoli",
    "Praha", "Kraków", "Warszawa", "Budapest", "Ljubljana", "Zagreb", "Dublin", "London",
    "Manchester", "Edinburgh",
]  # fmt: skip
VENUE_KINDS = ["Hall", "Arena", "Theatre", "Club", "Stadium", "Opera House", "Garden", "Loft"]
VENUE_NAMES = [
    "Blue Note", "Central", "Grand", "Old Mill", "Riverside", "Harbour", "Royal", "Union",
    "Palace", "Phoenix", "Victoria", "Lighthouse", "Crystal", "Echo", "Orchard", "Station",
]  # fmt: skip
# Descriptions draw from a Zipf-distributed vocabulary, as real text does: a few
# domain words are common (the top one is in about a fifth of descriptions), most are rare.
DOMAIN_WORDS = [
    "music",
    "live",
    "night",
    "evening",
    "stage",
    "band",
    "show",
    "artists",
    "season",
    "tickets",
    "family",
    "dance",
    "food",
    "drinks",
    "festival",
    "concert",
    "performance",
    "premiere",
    "open",
    "air",
    "tour",
    "special",
    "guests",
    "orchestra",
    "songs",
    "classic",
    "modern",
    "comedy",
    "theatre",
    "summer",
    "winter",
    "weekend",
    "celebration",
    "program",
    "seats",
    "venue",
    "doors",
    "story",
    "legendary",
    "award",
    "winning",
    "international",
    "local",
    "fresh",
    "sound",
    "light",
    "acoustic",
    "electric",
    "intimate",
    "grand",
    "finale",
    "opening",
    "headline",
    "support",
    "lineup",
]


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Domain words first (most frequent), then made-up words to fill the long tail."""
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "ti", "mur", "es"]
    made_up = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size * 2)} - set(
        DOMAIN_WORDS
    )
    return DOMAIN_WORDS + sorted(made_up)[: size - len(DOMAIN_WORDS)]


def typo(rng: random.Random, word: str) -> str:
    """One edit away (a letter dropped), as typed in a hurry."""
    if len(word) < 5:
        return word
    i = rng.randint(1, len(word) - 2)
    return word[:i] + word[i + 1 :]


def generate_events(count: int, seed: int = 42) -> list[dict[str, Any]]:
    """Deterministic events spread over 40 cities, 640 venues and two years."""
    rng = random.Random(seed)
    venues = [
        (1000 + i, f"{rng.choice(VENUE_NAMES)} {rng.choice(VENUE_KINDS)}", rng.choice(CITIES))
        for i in range(640)
    ]
    start = datetime(2031, 1, 1, tzinfo=UTC)
    words = vocabulary(rng)
    weights = [1 / (rank + 30) for rank in range(len(words))]  # Zipf, past the stop words
    events = []
    for event_id in range(1, count + 1):
        kind = rng.choice(list(GENRES))
        name = rng.choice(SHAPES).format(g=rng.choice(GENRES[kind]))
        venue_id, venue_name, city = rng.choice(venues)
        capacity = rng.choice([50, 100, 200, 500, 1000, 5000])
        sold_out = rng.random() < 0.1
        events.append(
            {
                "id": event_id,
                "name": name,
                "description": " ".join(rng.choices(words, weights, k=rng.randint(15, 40))),
                "type": kind,
                "starts_at": start + timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60)),
                "price": Decimal(rng.randint(500, 25000)) / 100,
                "capacity": capacity,
                "venue": (venue_id, venue_name, city),
                "available": 0 if sold_out else rng.randint(1, capacity),
                "sold_out": sold_out,
            }
        )
    return events


async def bulk_load(dsn: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """COPY the events into search.documents (setup; not the indexing path)."""
    columns = [
        "event_id", "event_version", "status", "searchable", "name", "description", "type",
        "starts_at", "ends_at", "price", "currency", "capacity", "venue_id", "venue_name",
        "city", "seats_available", "inventory_version", "on_sale", "sold_out",
    ]  # fmt: skip
    records = [
        (
            e["id"], 1, "published", True, e["name"], e["description"], e["type"],
            e["starts_at"], e["starts_at"] + timedelta(hours=3), e["price"], "EUR",
            e["capacity"], e["venue"][0], e["venue"][1], e["venue"][2], e["available"], 1,
            True, e["sold_out"],
        )
        for e in events
    ]  # fmt: skip
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "documents", schema_name="search", columns=columns, records=records
        )
        await conn.execute(queries.ALL_WORDS_FROM_DOCUMENTS)
        # What autovacuum would do soon after: statistics, and the visibility map that
        # lets listings read the covering index alone.
        await conn.execute("VACUUM (ANALYZE) search.documents")
        await conn.execute("VACUUM (ANALYZE) search.words")
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "documents": len(records),
        "seconds": round(seconds, 2),
        "documents_per_s": round(len(records) / seconds),
    }


def _event_payload(event: dict[str, Any], version: int) -> dict[str, Any]:
    venue_id, venue_name, city = event["venue"]
    return {
        "id": event["id"],
        "version": version,
        "name": event["name"],
        "description": event["description"],
        "type": event["type"],
        "status": "published",
        "starts_at": event["starts_at"].isoformat(),
        "ends_at": (event["starts_at"] + timedelta(hours=3)).isoformat(),
        "capacity": event["capacity"],
        "price": str(event["price"]),
        "currency": "EUR",
        "sale_opens_at": None,
        "sale_closes_at": None,
        "max_per_user": 10,
        "hold_ttl_seconds": 600,
        "waitlist_enabled": True,
        "waitlist_offer_ttl_seconds": 900,
        "venue": {
            "id": venue_id,
            "name": venue_name,
            "address": "1 Bench Street",
            "city": city,
            "capacity": event["capacity"],
        },
        "managed_by": None,
        "created_by": None,
        "created_at": event["starts_at"].isoformat(),
        "updated_at": event["starts_at"].isoformat(),
    }


async def measure_indexing(
    dsn: str, settings: SearchSettings, events: list[dict[str, Any]], limit: int, budget_s: float
) -> dict[str, Any]:
    """Apply outbox batches through the inbox and the search handlers; messages/s.

    The mix: a new event, an update of an existing event (version 2) and an availability
    change, in turn; 200 messages per batch, as the outbox relay sends them.
    """
    pool = await create_pool(settings, "bench-search-indexing", min_size=1, max_size=2)
    handlers = inbox_handlers(PostgresBackend(pool))
    rng = random.Random(7)
    first_new = len(events) + 1
    fresh = generate_events(limit, seed=99)
    applied, message_id, started = 0, 0, time.perf_counter()
    try:
        while applied < limit and time.perf_counter() - started < budget_s:
            messages = []
            for _ in range(min(200, limit - applied)):
                message_id += 1
                turn = message_id % 3
                if turn == 0:
                    new = dict(fresh[message_id % len(fresh)], id=first_new + message_id)
                    topic, key, version, payload = "event.changed", new["id"], 1, None
                    payload = _event_payload(new, 1)
                elif turn == 1:
                    old = rng.choice(events)
                    version = 2 + message_id
                    topic, key = "event.changed", old["id"]
                    payload = _event_payload(dict(old, name=old["name"] + " Encore"), version)
                else:
                    old = rng.choice(events)
                    version = 2 + message_id
                    topic, key = "inventory.changed", old["id"]
                    payload = {
                        "event_id": old["id"], "version": version, "capacity": old["capacity"],
                        "sold": 1, "held": 0, "available": old["capacity"] - 1,
                        "on_sale": True, "sold_out": False, "status": "published",
                    }  # fmt: skip
                messages.append(
                    {
                        "id": message_id,
                        "source": "bench",
                        "topic": topic,
                        "key": str(key),
                        "version": version,
                        "payload": payload,
                        "created_at": datetime.now(UTC),
                    }
                )
            batch = InboxBatch.model_validate({"source": "bench", "messages": messages})
            acked = await apply_batch(pool, "search", handlers, batch)
            if len(acked) != len(messages):
                raise RuntimeError(f"{len(messages) - len(acked)} message(s) failed to apply")
            applied += len(acked)
    finally:
        await pool.close()
    seconds = time.perf_counter() - started
    return {
        "path": "core.inbox.apply_batch + search handlers (one transaction per message)",
        "messages": applied,
        "seconds": round(seconds, 2),
        "messages_per_s": round(applied / seconds),
    }


SEARCH_TERMS = sorted({w.lower() for names in GENRES.values() for g in names for w in g.split()})
PLACE_TERMS = sorted({w.lower() for w in VENUE_NAMES + CITIES if " " not in w})


def text_query(rng: random.Random) -> str:
    """What people type: a genre or title word, often with a second word, a place or a
    typo; one in ten is a common description word matching thousands of events."""
    term = rng.choice(SEARCH_TERMS)
    roll = rng.random()
    if roll < 0.3:
        return term
    if roll < 0.5:
        return f"{term} {rng.choice(['night', 'festival', 'evening', 'live', 'gala'])}"
    if roll < 0.7:
        return f"{term} {rng.choice(PLACE_TERMS)}"
    if roll < 0.9:
        return typo(rng, term if len(term) >= 5 else rng.choice(PLACE_TERMS))
    return rng.choice(DOMAIN_WORDS[:20])


def query_mix(rng: random.Random, category: str) -> tuple[str, dict[str, str]]:
    """One request of ``category``: (path, query parameters)."""
    if category == "suggest":
        word = rng.choice(SEARCH_TERMS + PLACE_TERMS)
        return path_for(category), {"q": word[: rng.randint(2, max(2, len(word)))]}
    params: dict[str, str] = {} if category == "facets" else {"q": text_query(rng)}
    if category in ("text_filters", "facets"):
        choices = ["city", "type", "price", "dates", "available"]
        for choice in rng.sample(choices, rng.randint(1, 3)):
            if choice == "city":
                params["city"] = rng.choice(CITIES)
            elif choice == "type":
                params["type"] = rng.choice(list(GENRES))
            elif choice == "price":
                low = rng.randint(5, 150)
                params |= {"min_price": str(low), "max_price": str(low + rng.randint(10, 100))}
            elif choice == "dates":
                start = datetime(2031, 1, 1) + timedelta(days=rng.randint(0, 600))
                end = start + timedelta(days=rng.randint(7, 120))
                params |= {"from": start.date().isoformat(), "to": end.date().isoformat()}
            else:
                params["available"] = "true"
        params["sort"] = rng.choice(["relevance", "date", "price"] if "q" in params else ["date"])
    params["page"] = str(rng.choice([1, 1, 1, 2, 3]))
    return path_for(category), params


def path_for(category: str) -> str:
    return "/api/v1/search/suggest" if category == "suggest" else "/api/v1/search"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure_queries(
    base_url: str, per_category: int, budget_s: float
) -> dict[str, dict[str, Any]]:
    """Sequential requests per category, each bounded by count and by time."""
    rng = random.Random(2024)
    results: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(20):  # warm-up: plans, caches, connections
            path, params = query_mix(rng, "text_filters")
            async with session.get(path, params=params) as response:
                await response.read()
        for category in ("text", "text_filters", "facets", "suggest"):
            latencies: list[float] = []
            hits: list[int] = []
            slowest: list[tuple[float, dict[str, str]]] = []
            started = time.perf_counter()
            while len(latencies) < per_category and time.perf_counter() - started < budget_s:
                path, params = query_mix(rng, category)
                sent = time.perf_counter()
                async with session.get(path, params=params) as response:
                    body = await response.json()
                    if response.status != 200:
                        raise RuntimeError(f"{path} {params} -> {response.status}: {body}")
                latencies.append((time.perf_counter() - sent) * 1000)
                hits.append(body.get("total", len(body.get("events", []))))
                slowest = sorted([*slowest, (latencies[-1], params)], key=lambda s: -s[0])[:5]
            results[category] = {
                "queries": len(latencies),
                "p50_ms": round(percentile(latencies, 0.50), 2),
                "p95_ms": round(percentile(latencies, 0.95), 2),
                "p99_ms": round(percentile(latencies, 0.99), 2),
                "max_ms": round(max(latencies), 2),
                "mean_total_hits": round(statistics.fmean(hits)),
                "slowest": [{"ms": round(ms, 1), "params": p} for ms, p in slowest],
            }
            summary = {k: v for k, v in results[category].items() if k != "slowest"}
            print(f"  {category:13s} {summary}", flush=True)
    return results


async def measure_reference(base_url: str, dsn: str, rounds: int = 30) -> dict[str, float]:
    """How fast this machine is right now: an empty HTTP round trip and a plain count
    over all documents, measured in the same run (the machine is shared)."""
    http, scan = [], []
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(rounds):
            sent = time.perf_counter()
            async with session.get("/healthz") as response:
                await response.read()
            http.append((time.perf_counter() - sent) * 1000)
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(rounds):
            sent = time.perf_counter()
            await conn.fetchval("SELECT count(*) FROM search.documents")
            scan.append((time.perf_counter() - sent) * 1000)
    finally:
        await conn.close()
    return {
        "healthz_http_p50_ms": round(percentile(http, 0.5), 2),
        "count_all_documents_p50_ms": round(percentile(scan, 0.5), 2),
    }


async def serve_search(settings: SearchSettings) -> tuple[Any, str]:
    app = create_app(SERVICE, settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = bind_socket("127.0.0.1", 0)
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def run(args: argparse.Namespace, admin_dsn: str) -> dict[str, Any]:
    name = f"evently_bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(admin_dsn, name)
    try:
        await migrations.migrate_dsn(dsn, [("search", "search")])
        settings = load_settings(
            SearchSettings,
            {"DATABASE_URL": dsn, "INTERNAL_API_KEY": "bench-internal-key-0123456789"},
            db_pool_max=4,
        )
        print(f"generating {args.documents} events ...", flush=True)
        events = generate_events(args.documents)
        print("bulk loading (COPY) ...", flush=True)
        loaded = await bulk_load(dsn, events)
        print(f"  {loaded}", flush=True)
        print("querying through HTTP ...", flush=True)
        runner, base_url = await serve_search(settings)
        try:
            reference = await measure_reference(base_url, dsn)
            print(f"  reference     {reference}", flush=True)
            latency = await measure_queries(base_url, args.queries, args.seconds)
        finally:
            await runner.cleanup()
        print("indexing through the inbox ...", flush=True)
        indexing = await measure_indexing(dsn, settings, events, args.index_messages, args.seconds)
        print(f"  {indexing}", flush=True)
        version = await admin.fetchval("SHOW server_version")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    p95 = latency[TARGET_CATEGORY]["p95_ms"]
    return {
        "benchmark": "search (PostgreSQL backend)",
        "documents": args.documents,
        "bulk_load": loaded,
        "indexing": indexing,
        "queries": latency,
        "reference": reference,
        "target": {
            "category": TARGET_CATEGORY,
            "p95_ms_below": TARGET_P95_MS,
            "p95_ms": p95,
            "met": p95 < TARGET_P95_MS,
        },
        "environment": {
            "postgres": version,
            "embedded_postgres": not os.environ.get("DATABASE_URL"),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "client": "one sequential aiohttp client on 127.0.0.1, same machine",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400, help="per category (bounded)")
    parser.add_argument("--index-messages", type=int, default=3000, help="bounded")
    parser.add_argument("--seconds", type=float, default=60.0, help="time bound per phase")
    parser.add_argument("--output", default=str(ROOT / "bench-results" / "search.json"))
    args = parser.parse_args()
    external = os.environ.get("DATABASE_URL")
    if external:
        report = asyncio.run(run(args, external))
    else:
        from evently.core.embedded import start_embedded_postgres

        with tempfile.TemporaryDirectory(prefix="evently-bench-search-") as tmp:
            server, dsn = start_embedded_postgres(Path(tmp) / "pgdata", keep_data=False)
            try:
                report = asyncio.run(run(args, dsn))
            finally:
                server.cleanup()  # type: ignore[attr-defined]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    target = report["target"]
    verdict = "met" if target["met"] else "MISSED"
    print(
        f"{TARGET_CATEGORY} p95 {target['p95_ms']} ms (target < {TARGET_P95_MS} ms: {verdict}); "
        f"indexing {report['indexing']['messages_per_s']} messages/s; written to {output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
