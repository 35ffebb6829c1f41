"""The date and price keys of the text index (range_keys.py, migration 0005).

A range is passed to the text index as the keys of one granularity that cover it; the
keys are computed in Python and stored by SQL functions, so the two must agree: every
value inside a range carries one of its keys (nothing is lost), and the cover stays
within MAX_COVER_RATIO of the range (it narrows the search). Then: which keys are worth
passing (``choose``), and that the search statement hands them to the text index.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from evently.search import queries, range_keys
from evently.search.backend_postgres import PostgresBackend
from evently.search.models import SearchQuery

RANGES = [
    ("2031-06-15T00:00:00", "2031-06-16T00:00:00"),  # one day
    ("2031-06-15T10:00:00", "2031-06-22T09:00:00"),  # a week, mid-day to mid-day
    ("2031-06-01T00:00:00", "2031-06-11T00:00:00"),  # 10 days
    ("2031-05-25T00:00:00", "2031-07-09T00:00:00"),  # 45 days across two month ends
    ("2031-11-20T00:00:00", "2032-03-19T00:00:00"),  # 120 days across a year end
    ("2031-01-01T00:00:00", "2033-01-01T00:00:00"),  # two whole years
    ("1969-12-25T00:00:00", "1970-01-05T00:00:00"),  # around the epoch
]
PRICES = [("9.99", "10"), ("10", "49.90"), ("97", "139"), ("0", "5"), ("0.5", "0.75")]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def conn(search_database: str):
    connection = await asyncpg.connect(search_database)
    yield connection
    await connection.close()


@pytest.mark.parametrize(("start", "end"), RANGES)
async def test_every_start_inside_a_range_carries_one_of_its_keys(conn, start, end):
    first, before = at(start), at(end)
    keys = range_keys.start_keys(first, before)
    assert keys is not None
    span = before - first
    inside = [first, before - timedelta(microseconds=1), first + span / 2, first + span / 3]
    outside = [first - 2 * span - timedelta(days=1), before + 2 * span + timedelta(days=1)]
    found = await conn.fetch(
        "SELECT v, search.start_keys(v) && $2::bigint[] AS found FROM unnest($1::timestamptz[]) v",
        inside + outside,
        keys,
    )
    assert [row["found"] for row in found] == [True] * len(inside) + [False] * len(outside)


@pytest.mark.parametrize(("start", "end"), RANGES)
async def test_a_start_range_is_covered_at_most_twice_over(conn, start, end):
    first, before = at(start), at(end)
    keys = range_keys.start_keys(first, before)
    days = (before - first).days + 2
    around = [first - timedelta(days=3 * days) + timedelta(days=d) for d in range(7 * days)]
    covered = await conn.fetchval(
        "SELECT count(*) FROM unnest($1::timestamptz[]) v WHERE search.start_keys(v) && $2",
        around,
        keys,
    )
    assert days - 2 <= covered <= range_keys.MAX_COVER_RATIO * days


@pytest.mark.parametrize(("low", "high"), PRICES)
async def test_every_price_inside_a_range_carries_one_of_its_keys(conn, low, high):
    keys = range_keys.price_keys(Decimal(low), Decimal(high))
    assert keys is not None
    inside = [Decimal(low), Decimal(high), (Decimal(low) + Decimal(high)) / 2]
    width = Decimal(high) - Decimal(low) + 1
    outside = [Decimal(high) + 2 * width + 1, Decimal("-1"), Decimal("1e20")]
    found = await conn.fetch(
        "SELECT v, search.price_keys(v) && $2::bigint[] AS found FROM unnest($1::numeric[]) v",
        inside + outside,
        keys,
    )
    assert [row["found"] for row in found] == [True] * len(inside) + [False] * len(outside)


def test_open_or_loose_ranges_get_no_keys():
    assert range_keys.start_keys(at("2031-06-01T00:00:00"), None) is None
    assert range_keys.start_keys(None, at("2031-06-01T00:00:00")) is None
    assert range_keys.price_keys(None, Decimal(50)) is None
    assert range_keys.price_keys(Decimal(50), None) is None
    # 38-133 would be tens 3-13 (too many keys) or the hundreds 0-199 (twice too wide).
    assert range_keys.price_keys(Decimal(38), Decimal(133)) is None
    # 97, 98, 99 (units: 8 * value), then the tens 10-13 (8 * value + 1).
    assert range_keys.price_keys(Decimal(97), Decimal(139)) == [776, 784, 792, 81, 89, 97, 105]


def test_keys_are_passed_only_while_the_intersection_stays_cheap():
    dates, prices = [1, 9, 17], [2, 10]
    # A rare word: both ranges.
    assert range_keys.choose([20_000], dates, 120_000, prices, 200_000) == (dates, prices)
    # A common word: its 240,000 rows against 3 months of keys would cost more.
    assert range_keys.choose([240_000], dates, 120_000, prices, 200_000) == (None, None)
    # ... unless one range is narrow: that one alone if both would cost too much.
    many = [2, 10, 18, 26, 34, 42]
    assert range_keys.choose([240_000], [5], 40_000, many, 200_000) == ([5], None)
    assert range_keys.choose([240_000], [5], 10_000, many, 200_000) == ([5], many)
    # A rare city makes the intersection cheap whatever the word.
    assert range_keys.choose([240_000, 25_000], dates, 120_000, prices, 200_000) == (
        dates,
        prices,
    )


async def test_a_text_search_with_a_date_range_hands_its_keys_to_the_text_index(
    search_database,
):
    # 50,000 events over 60 days (written straight into the table, as the benchmark
    # loads its corpus: this is about the planner, not the inbox), one in ten of them
    # jazz: a 20-day range holds 16,700 of them, 1,670 jazz, which the text index
    # finds among the range's keys without reading the other 15,000 rows.
    query = SearchQuery.model_validate(
        {"q": "jazz", "from": "2031-01-10", "to": "2031-01-29", "sort": "date"}
    )
    conn = await asyncpg.connect(search_database)
    try:
        await conn.execute(
            "TRUNCATE search.documents;"
            " INSERT INTO search.documents (event_id, event_version, status, searchable,"
            "  name, type, starts_at, price, currency, capacity, city)"
            " SELECT i, 1, 'published', true,"
            "  CASE WHEN i % 10 = 0 THEN 'Jazz ' ELSE 'Event ' END || i, 'concert',"
            "  timestamptz '2031-01-01 00:00Z' + i * interval '103 seconds', 25, 'EUR', 100,"
            "  'City ' || i % 40"
            " FROM generate_series(1, 50000) AS i;"
            " ANALYZE search.documents"
        )
        async with conn.transaction(readonly=True):
            await conn.execute(queries.PREPARE_READ)
            keys = await PostgresBackend._range_keys(conn, query, None)
            sql, params = queries.search_arguments(query, 1000, None, keys)
            plan = await conn.fetch(f"EXPLAIN {sql}", *params)
    finally:
        await conn.execute("TRUNCATE search.documents")
        await conn.close()

    assert keys == (range_keys.start_keys(query.starts_from, query.starts_before), None)
    lines = [row[0] for row in plan]
    index_conditions = [
        line
        for before, line in itertools.pairwise(lines)
        if "Bitmap Index Scan on documents_text_idx" in before and "Index Cond" in line
    ]
    assert index_conditions, "\n".join(lines)
    assert all("search.start_keys(starts_at) &&" in line for line in index_conditions), lines
