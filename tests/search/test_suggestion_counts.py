"""search.suggestions: the exact number of searchable events per name and venue, kept
by the indexer in the same statement as the document write (PostgreSQL store, shared by
both backends, so tested once)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.search.conftest import Feeder

TRUTH = """
SELECT 'event' AS kind, name, '' AS city, count(*)::int AS events
FROM search.documents WHERE searchable GROUP BY name
UNION ALL
SELECT 'venue', venue_name, city, count(*)::int FROM search.documents
WHERE searchable AND venue_name <> '' GROUP BY venue_name, city"""
KEPT = "SELECT kind, name, city, events FROM search.suggestions WHERE events > 0"


@pytest.fixture
def search_backend() -> str:
    return "postgres"


async def counts(database_url: str, sql: str) -> dict[tuple[str, str, str], int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {(r["kind"], r["name"], r["city"]): r["events"] for r in await conn.fetch(sql)}
    finally:
        await conn.close()


async def test_counts_follow_publish_rename_cancel_and_republish(feed, search, database_url):
    for event_id in (1, 2, 3):
        await feed.publish(event_id, name="Jazz Night", venue="Blue Note", city="Berlin")
    await feed.publish(4, name="Jazz Night", status="draft")
    await feed.publish(2, name="Jazz Morning", venue="Blue Note", city="Berlin")
    await feed.publish(3, name="Jazz Night", venue="Blue Note", city="Berlin", status="cancelled")
    stale = feed.message("event.changed", Feeder.event(1, 1, name="Old Name"))
    await feed.deliver([stale])  # older than what is stored: changes nothing

    kept = await counts(database_url, KEPT)
    assert kept == {
        ("event", "Jazz Night", ""): 1,
        ("event", "Jazz Morning", ""): 1,
        ("venue", "Blue Note", "Berlin"): 2,
    }
    await feed.publish(3, name="Jazz Night", venue="Blue Note", city="Berlin")
    await feed.publish(4, name="Jazz Night", venue="Old Mill", city="Bonn")
    assert await counts(database_url, KEPT) == {
        ("event", "Jazz Night", ""): 3,
        ("event", "Jazz Morning", ""): 1,
        ("venue", "Blue Note", "Berlin"): 3,
        ("venue", "Old Mill", "Bonn"): 1,
    }
    suggested = await search("/api/v1/search/suggest", q="jazz")
    assert suggested["events"] == ["Jazz Night", "Jazz Morning"]  # more events first


async def test_counts_stay_exact_under_concurrent_writes_to_shared_names(
    feed, search, database_url
):
    names = ["Jazz Night", "Rock Night", "Folk Night"]
    venues = [("Blue Note", "Berlin"), ("Old Mill", "Bonn")]

    def fields(event_id: int, turn: int) -> dict[str, str]:
        venue, city = venues[(event_id + turn) % 2]
        return {"name": names[(event_id + turn) % 3], "venue": venue, "city": city}

    await asyncio.gather(*(feed.publish(i, **fields(i, 0)) for i in range(1, 31)))
    await asyncio.gather(
        *(
            feed.publish(i, **fields(i, 1), status="cancelled" if i % 4 == 0 else "published")
            for i in range(1, 31)
        )
    )
    await asyncio.gather(*(feed.publish(i, **fields(i, 2)) for i in range(1, 31, 8)))

    truth = await counts(database_url, TRUTH)
    published = sum(v for (kind, _, _), v in truth.items() if kind == "event")
    assert published == 30 - 7  # every fourth was cancelled
    assert await counts(database_url, KEPT) == truth


async def test_concurrent_first_writes_of_one_event_count_it_once(feed, database_url):
    """Two versions of a new event arrive at once: whichever writes second either saw
    the row or rolls back (unacknowledged) and is applied on redelivery."""
    pending = []
    for event_id in range(1, 16):
        first = Feeder.event(event_id, 1, name="Jazz Night", venue="Blue Note")
        second = Feeder.event(event_id, 2, name="Rock Night", venue="Old Mill", city="Bonn")
        pending += [feed.message("event.changed", first), feed.message("event.changed", second)]

    for _ in range(5):  # redeliver what was not acknowledged, as the outbox would
        acked = await asyncio.gather(*(feed.deliver([m]) for m in pending))
        pending = [m for m, ack in zip(pending, acked, strict=True) if not ack]
        if not pending:
            break

    assert pending == []
    assert await counts(database_url, KEPT) == {
        ("event", "Rock Night", ""): 15,
        ("venue", "Old Mill", "Bonn"): 15,
    }
