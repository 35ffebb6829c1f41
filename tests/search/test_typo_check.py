"""PostgreSQL's typo check (is any event matched by the words as typed?) asks the text
index, never the table: planned freely, it expected an unknown word in 0.3 % of the
rows and scanned the table for the first one, which for a typo meant every row (0.2-2 s
at a million events)."""

from __future__ import annotations

import asyncpg
import pytest

from evently.search import queries


@pytest.fixture
def search_backend() -> str:
    return "postgres"


async def test_the_typo_check_reads_the_text_index_not_the_table(feed, search_database):
    # Enough events that reading them all costs more than a look in the index.
    types = ["concert", "theatre", "opera", "comedy", "dance"]
    for first in range(1, 2001, 500):
        acknowledged = await feed.events(
            *(
                feed.event(i, name=f"Event {i}", type=types[i % 5], city=f"City {i % 40}")
                for i in range(first, first + 500)
            )
        )
        assert len(acknowledged) == 500
    conn = await asyncpg.connect(search_database)
    try:
        # As autovacuum leaves it: the text index's pending list (rows the inbox wrote
        # one by one, not yet merged into the index, which every scan of it reads) is
        # merged. 2,000 rows of pending list cost the planner more than reading them all.
        await conn.execute("VACUUM (ANALYZE) search.documents")
        async with conn.transaction(readonly=True):
            await conn.execute(queries.PREPARE_READ)
            await conn.execute(queries.TEXT_CHECK_BY_INDEX)
            plan = await conn.fetch(f"EXPLAIN {queries.TEXT_MATCHES_ANY}", "jaz nite")
            await conn.execute(queries.PLAN_FREELY)
            after = await conn.fetchval("SHOW enable_seqscan")
    finally:
        await conn.close()

    lines = "\n".join(row[0] for row in plan)
    assert "Bitmap Index Scan on documents_text_idx" in lines, lines
    assert "Seq Scan" not in lines, lines
    assert after == "on"  # the statements after it are planned freely again
