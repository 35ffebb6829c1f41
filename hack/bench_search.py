#!/usr/bin/env python3
"""Search benchmark: generated events (100,000 by default) on both search backends.

1. Bulk-loads the generated events into ``search.documents`` (COPY, indexes built after
   the load; setup only). For OpenSearch the index is then built with the bulk API by
   the backend's own reindex (osmem-server, an in-memory OpenSearch-API stand-in: its
   speed says nothing about real OpenSearch).
2. Serves the real search app on 127.0.0.1 and measures latency through HTTP, p50, p95
   and p99 per shape: ``text``, ``text_filters`` (text + filters), ``listing`` (no text:
   a filtered listing) and ``suggest``; facets are always computed.
3. Measures indexing throughput through the real indexing path on a sample: outbox
   batches of event.changed / inventory.changed applied by the inbox
   (``core.inbox.apply_batch`` with the search handlers), exactly what
   ``POST /internal/inbox`` runs.

Uses ``DATABASE_URL``'s server if set (in a scratch database it drops afterwards),
else an embedded PostgreSQL in a temporary directory. ``--data-dir`` keeps the embedded
server's data and the loaded database there, so a later run with the same
``--documents`` skips the load (pending migrations are still applied). Every loop is
bounded in count and in time. Writes ``bench-results/search.json``.

    make bench-search                       # 100,000 events, both backends
    make bench-search SIZE=1000000 BENCH_ARGS="--backends postgres --data-dir /tmp/bs"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp import web  # noqa: E402
from tests.support.opensearch import opensearch_server  # noqa: E402

from evently.core import migrations  # noqa: E402
from evently.core.app import bind_socket, create_app  # noqa: E402
from evently.core.db import create_pool  # noqa: E402
from evently.core.inbox import InboxBatch, apply_batch  # noqa: E402
from evently.core.settings import load_settings  # noqa: E402
from evently.search import queries  # noqa: E402
from evently.search.backend import create_backend  # noqa: E402
from evently.search.indexing import inbox_handlers  # noqa: E402
from evently.search.service import SERVICE  # noqa: E402
from evently.search.settings import SearchSettings  # noqa: E402

TARGET_P95_MS = 50.0
SHAPE_NAMES = ("text", "text_filters", "listing", "suggest")
LOAD_CHUNK = 50_000

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


def generate_events(count: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """Deterministic events spread over 40 cities, 640 venues and two years (a prefix
    of a larger run's events is the smaller run's events)."""
    rng = random.Random(seed)
    venues = [
        (1000 + i, f"{rng.choice(VENUE_NAMES)} {rng.choice(VENUE_KINDS)}", rng.choice(CITIES))
        for i in range(640)
    ]
    start = datetime(2031, 1, 1, tzinfo=UTC)
    words = vocabulary(rng)
    weights = [1 / (rank + 30) for rank in range(len(words))]  # Zipf, past the stop words
    cumulative = list(itertools.accumulate(weights))
    for event_id in range(1, count + 1):
        kind = rng.choice(list(GENRES))
        name = rng.choice(SHAPES).format(g=rng.choice(GENRES[kind]))
        venue_id, venue_name, city = rng.choice(venues)
        capacity = rng.choice([50, 100, 200, 500, 1000, 5000])
        sold_out = rng.random() < 0.1
        yield (
            {
                "id": event_id,
                "name": name,
                "description": " ".join(
                    rng.choices(words, cum_weights=cumulative, k=rng.randint(15, 40))
                ),
                "type": kind,
                "starts_at": start + timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60)),
                "price": Decimal(rng.randint(500, 25000)) / 100,
                "capacity": capacity,
                "venue": (venue_id, venue_name, city),
                "available": 0 if sold_out else rng.randint(1, capacity),
                "sold_out": sold_out,
            }
        )


DOCUMENT_COLUMNS = [
    "event_id", "event_version", "status", "searchable", "name", "description", "type",
    "starts_at", "ends_at", "price", "currency", "capacity", "venue_id", "venue_name",
    "city", "seats_available", "inventory_version", "on_sale", "sold_out",
]  # fmt: skip


def _record(e: dict[str, Any]) -> tuple[Any, ...]:
    return (
        e["id"], 1, "published", True, e["name"], e["description"], e["type"],
        e["starts_at"], e["starts_at"] + timedelta(hours=3), e["price"], "EUR",
        e["capacity"], e["venue"][0], e["venue"][1], e["venue"][2], e["available"], 1,
        True, e["sold_out"],
    )  # fmt: skip


async def bulk_load(dsn: str, count: int) -> dict[str, Any]:
    """COPY ``count`` generated events into search.documents (setup; not the indexing
    path). The table's secondary indexes are dropped for the load and rebuilt from their
    own definitions afterwards, as a bulk load into a fresh table is done."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'search'"
            " AND tablename = 'documents' AND indexname <> 'documents_pkey'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX search.{index['indexname']}")
        events = generate_events(count)
        while chunk := [_record(e) for e in itertools.islice(events, LOAD_CHUNK)]:
            await conn.copy_records_to_table(
                "documents", schema_name="search", columns=DOCUMENT_COLUMNS, records=chunk
            )
            print(f"  copied up to event {chunk[-1][0]}", flush=True)
        copied = time.perf_counter()
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute(queries.ALL_WORDS_FROM_DOCUMENTS)
        for statement in BULK_LOAD_FINISH:
            await conn.execute(statement)
        # What autovacuum would do soon after: statistics, and the visibility map that
        # lets listings read the covering index alone.
        await conn.execute("VACUUM (ANALYZE) search.documents")
        await conn.execute("VACUUM (ANALYZE) search.words")
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "documents": count,
        "seconds": round(seconds, 2),
        "copy_seconds": round(copied - started, 2),
        "documents_per_s": round(count / seconds),
    }


# Derived structures a COPY bypasses, rebuilt after the load (those this version has).
BULK_LOAD_FINISH: list[str] = [
    statement
    for statement in [getattr(queries, "ALL_SUGGESTIONS_FROM_DOCUMENTS", None)]
    if statement
]


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
    settings: SearchSettings, backend_name: str, limit: int, budget_s: float
) -> dict[str, Any]:
    """Apply outbox batches through the inbox and the search handlers; messages/s.

    The mix: a new event, an update of an existing event and an availability change, in
    turn; 200 messages per batch, as the outbox relay sends them. Versions and new ids
    start above what the table holds, so a reused database applies every message.
    """
    pool = await create_pool(settings, "bench-search-indexing", min_size=1, max_size=2)
    backend = create_backend(settings, pool)
    await backend.start()
    handlers = inbox_handlers(backend)
    rng = random.Random(7)
    async with pool.acquire() as conn:
        top = await conn.fetchrow(
            "SELECT max(event_id) AS id, max(event_version) AS event_version,"
            " max(inventory_version) AS inventory_version FROM search.documents"
        )
        first_new = top["id"] + 1
        existing = list(generate_events(min(top["id"], 20_000)))
    fresh = list(generate_events(limit, seed=99))
    source = f"bench-{uuid.uuid4().hex[:8]}"  # a fresh inbox identity per run
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
                    old = rng.choice(existing)
                    version = top["event_version"] + 1 + message_id
                    topic, key = "event.changed", old["id"]
                    payload = _event_payload(dict(old, name=old["name"] + " Encore"), version)
                else:
                    old = rng.choice(existing)
                    version = top["inventory_version"] + 1 + message_id
                    topic, key = "inventory.changed", old["id"]
                    payload = {
                        "event_id": old["id"], "version": version, "capacity": old["capacity"],
                        "sold": 1, "held": 0, "available": old["capacity"] - 1,
                        "on_sale": True, "sold_out": False, "status": "published",
                    }  # fmt: skip
                messages.append(
                    {
                        "id": message_id,
                        "source": source,
                        "topic": topic,
                        "key": str(key),
                        "version": version,
                        "payload": payload,
                        "created_at": datetime.now(UTC),
                    }
                )
            batch = InboxBatch.model_validate({"source": source, "messages": messages})
            acked = await apply_batch(pool, "search", handlers, batch)
            if len(acked) != len(messages):
                raise RuntimeError(f"{len(messages) - len(acked)} message(s) failed to apply")
            applied += len(acked)
    finally:
        await backend.close()
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
    params: dict[str, str] = {} if category == "listing" else {"q": text_query(rng)}
    if category in ("text_filters", "listing"):
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
        for category in SHAPE_NAMES:
            latencies: list[float] = []
            hits: list[int] = []
            failures: list[dict[str, Any]] = []
            slowest: list[tuple[float, dict[str, str]]] = []
            started = time.perf_counter()
            while len(latencies) < per_category and time.perf_counter() - started < budget_s:
                path, params = query_mix(rng, category)
                sent = time.perf_counter()
                async with session.get(path, params=params) as response:
                    body = await response.json()
                latencies.append((time.perf_counter() - sent) * 1000)
                slowest = sorted([*slowest, (latencies[-1], params)], key=lambda s: -s[0])[:5]
                if response.status != 200:
                    # A 503 (the statement timeout) is a failed answer, not a fast one: it
                    # counts as an error and its latency stays in the figures.
                    failures.append({"status": response.status, "params": params})
                    continue
                hits.append(body.get("total", len(body.get("events", []))))
            results[category] = {
                "queries": len(latencies),
                "p50_ms": round(percentile(latencies, 0.50), 2),
                "p95_ms": round(percentile(latencies, 0.95), 2),
                "p99_ms": round(percentile(latencies, 0.99), 2),
                "max_ms": round(max(latencies), 2),
                "mean_total_hits": round(statistics.fmean(hits)) if hits else None,
                "errors": len(failures),
                "first_errors": failures[:3],
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


async def set_shared_buffers(dsn: str, size: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"ALTER SYSTEM SET shared_buffers = '{size}'")
    finally:
        await conn.close()


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


async def prepare_database(
    admin: asyncpg.Connection, admin_dsn: str, name: str, documents: int
) -> tuple[str, dict[str, Any]]:
    """Create (or reuse) the database, apply pending migrations, load if not loaded."""
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(admin_dsn, name)
    await migrations.migrate_dsn(dsn, [("search", "search")])
    conn = await asyncpg.connect(dsn)
    try:
        present = await conn.fetchval("SELECT count(*) FROM search.documents")
    finally:
        await conn.close()
    if present >= documents:
        print(f"reusing {present} loaded documents in {name}", flush=True)
        return dsn, {"documents": present, "reused": True}
    if present:
        raise RuntimeError(f"{name} holds {present} documents, fewer than {documents}")
    print(f"bulk loading {documents} generated events (COPY) ...", flush=True)
    loaded = await bulk_load(dsn, documents)
    print(f"  {loaded}", flush=True)
    return dsn, loaded


async def bench_backend(
    args: argparse.Namespace, dsn: str, backend: str, opensearch_url: str | None
) -> dict[str, Any]:
    """Latency per shape through HTTP, then indexing through the inbox, on one backend."""
    env = {"DATABASE_URL": dsn, "INTERNAL_API_KEY": "bench-internal-key-0123456789"}
    if backend == "opensearch":
        env |= {
            "SEARCH_BACKEND": "opensearch",
            "OPENSEARCH_URL": str(opensearch_url),
            "OPENSEARCH_INDEX": f"bench-{uuid.uuid4().hex[:6]}",
            "OPENSEARCH_REPLICAS": "0",
            "SEARCH_REINDEX_BATCH_SIZE": "2000",
            "OPENSEARCH_TIMEOUT_S": "60",
        }
    settings = load_settings(SearchSettings, env, db_pool_max=4)
    report: dict[str, Any] = {}
    if backend == "opensearch":
        print("building the OpenSearch index (bulk API, the backend's reindex) ...", flush=True)
        pool = await create_pool(settings, "bench-search-reindex", min_size=1, max_size=3)
        builder = create_backend(settings, pool)
        try:
            reindexed = await builder.reindex()
        finally:
            await builder.close()
            await pool.close()
        report["bulk_index"] = {
            "documents": reindexed.documents,
            "seconds": reindexed.seconds,
            "documents_per_s": round(reindexed.documents / max(reindexed.seconds, 1e-9)),
        }
        print(f"  {report['bulk_index']}", flush=True)
    print(f"querying {backend} through HTTP ...", flush=True)
    runner, base_url = await serve_search(settings)
    try:
        report["reference"] = await measure_reference(base_url, dsn)
        print(f"  reference     {report['reference']}", flush=True)
        report["queries"] = await measure_queries(base_url, args.queries, args.seconds)
    finally:
        await runner.cleanup()
    print(f"indexing through the inbox ({backend}) ...", flush=True)
    report["indexing"] = await measure_indexing(
        settings, backend, args.index_messages, args.seconds
    )
    print(f"  {report['indexing']}", flush=True)
    report["load_average_1m"] = round(os.getloadavg()[0], 2)
    if backend == "opensearch":
        report["note"] = (
            "osmem-server, an in-memory OpenSearch-API stand-in: its speed says nothing "
            "about real OpenSearch"
        )
    return report


async def run(args: argparse.Namespace, admin_dsn: str, keep: bool) -> dict[str, Any]:
    name = args.database or (
        f"evently_bench_search_{args.documents}"
        if keep
        else f"evently_bench_search_{uuid.uuid4().hex[:8]}"
    )
    admin = await asyncpg.connect(admin_dsn)
    results: dict[str, Any] = {}
    try:
        dsn, loaded = await prepare_database(admin, admin_dsn, name, args.documents)
        for backend in args.backends:
            if backend == "opensearch":
                with opensearch_server() as server:
                    results[backend] = await bench_backend(args, dsn, backend, server.url)
            else:
                results[backend] = await bench_backend(args, dsn, backend, None)
        version = await admin.fetchval("SHOW server_version")
    finally:
        if not keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "benchmark": "search",
        "documents": args.documents,
        "bulk_load": loaded,
        "backends": results,
        "target": {
            "p95_ms_below": TARGET_P95_MS,
            "met": {
                backend: all(
                    report["queries"][shape]["p95_ms"] < TARGET_P95_MS for shape in SHAPE_NAMES
                )
                for backend, report in results.items()
            },
        },
        "environment": {
            "postgres": version,
            "embedded_postgres": not os.environ.get("DATABASE_URL"),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "shared_buffers": args.shared_buffers or "server default",
            "python": platform.python_version(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "client": "one sequential aiohttp client on 127.0.0.1, same machine",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400, help="per shape (bounded)")
    parser.add_argument("--index-messages", type=int, default=3000, help="bounded")
    parser.add_argument("--seconds", type=float, default=60.0, help="time bound per phase")
    parser.add_argument(
        "--backends",
        type=lambda value: value.split(","),
        default=["postgres", "opensearch"],
        help="comma-separated: postgres, opensearch (osmem-server stand-in)",
    )
    parser.add_argument(
        "--data-dir", help="keep the embedded server's data here and reuse a loaded database"
    )
    parser.add_argument(
        "--database", help="with --data-dir: the database to use (default: one per size)"
    )
    parser.add_argument(
        "--shared-buffers",
        help="embedded server only: PostgreSQL's shared_buffers (e.g. 2GB), so that a large "
        "corpus's working set stays in the database's own cache as on a production server",
    )
    parser.add_argument("--output", default=str(ROOT / "bench-results" / "search.json"))
    args = parser.parse_args()
    if unknown := set(args.backends) - {"postgres", "opensearch"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    external = os.environ.get("DATABASE_URL")
    if external:
        report = asyncio.run(run(args, external, keep=False))
    else:
        from evently.core.embedded import start_embedded_postgres

        with contextlib.ExitStack() as stack:
            data_dir = args.data_dir or stack.enter_context(
                tempfile.TemporaryDirectory(prefix="evently-bench-search-")
            )
            keep = bool(args.data_dir)
            pgdata = Path(data_dir) / "pgdata"
            if args.shared_buffers:
                # Takes effect at server start: start once to create the cluster, set it
                # (postgresql.auto.conf), then start again.
                server, dsn = start_embedded_postgres(pgdata, keep_data=True)
                asyncio.run(set_shared_buffers(dsn, args.shared_buffers))
                server.cleanup()  # type: ignore[attr-defined]
            server, dsn = start_embedded_postgres(pgdata, keep_data=keep)
            try:
                report = asyncio.run(run(args, dsn, keep=keep))
            finally:
                server.cleanup()  # type: ignore[attr-defined]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    for backend, result in report["backends"].items():
        figures = ", ".join(
            f"{shape} {result['queries'][shape]['p95_ms']}" for shape in SHAPE_NAMES
        )
        verdict = "met" if report["target"]["met"][backend] else "MISSED"
        print(
            f"{backend}: p95 ms {figures} (target < {TARGET_P95_MS} ms each: {verdict}); "
            f"indexing {result['indexing']['messages_per_s']} messages/s"
        )
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
