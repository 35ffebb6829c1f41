"""OpenSearch-only behaviour: outages, versioned writes, the alias and reindexing.

The server is a real OpenSearch-API process (osmem-server) per test; outages are made
by pausing it (SIGSTOP: requests hang until the client's 1 s timeout) or stopping it
(connections refused; its in-memory data is lost, as with a wiped cluster).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import asyncpg
import pytest
from opensearchpy import AsyncOpenSearch

from evently.core.db import POOL
from evently.search.backend import SEARCH_BACKEND
from evently.search.errors import ReindexBusy
from evently.search.models import SearchDocument
from evently.search.queries import DOCUMENT_COLUMNS, REINDEX_RUN_LOCK
from tests.search.conftest import ids, names, wait_until_ready

pytestmark = pytest.mark.parametrize("search_backend", ["opensearch"])
ALIAS = "evently-events"


@pytest.fixture
def search_env(search_env: dict[str, str]) -> dict[str, str]:
    """A 1 s client timeout, so requests to a paused server fail fast."""
    return search_env | {"OPENSEARCH_TIMEOUT_S": "1"}


async def assert_unavailable(client) -> None:
    response = await client.get("/api/v1/search", params={"q": "jazz"})
    assert response.status == 503
    assert response.headers["Retry-After"]
    problem = await response.json()
    assert problem["code"] == "search_unavailable"

    ready = await client.get("/readyz")
    assert ready.status == 503
    check = (await ready.json())["checks"]["search_backend_ready"]
    assert check.startswith("opensearch unreachable")


async def test_paused_opensearch_means_503_and_unacknowledged_updates_until_it_returns(
    client, feed, search, opensearch
):
    await feed.publish(1, name="Jazz Night")
    update = feed.message("event.changed", feed.event(1, 2, name="Jazz Night Reloaded"))
    new = feed.message("event.changed", feed.event(2, 1, name="Jazz Brunch"))

    opensearch.pause()
    try:
        await assert_unavailable(client)
        # The inbox fails them, so the producer's outbox keeps both for a retry.
        assert await feed.deliver([update, new]) == []
    finally:
        opensearch.resume()

    # The outbox re-delivers; nothing was lost.
    assert await feed.deliver([update, new]) == [update["id"], new["id"]]
    assert names(await search(q="jazz", sort="date")) == ["Jazz Night Reloaded", "Jazz Brunch"]
    assert (await client.get("/readyz")).status == 200


async def test_wiped_opensearch_is_rebuilt_from_postgres_and_catches_up(
    client, feed, search, opensearch
):
    await feed.publish(1, name="Jazz Night")
    await feed.publish(2, name="Jazz Brunch")
    later = feed.message("event.changed", feed.event(3, 1, name="Jazz Picnic"))

    opensearch.stop()
    await assert_unavailable(client)
    assert await feed.deliver([later]) == []

    opensearch.start()  # same address, no data, no alias
    await wait_until_ready(client)  # the index check rebuilt the alias from PostgreSQL
    assert ids(await search(q="jazz", sort="date")) == [1, 2]

    assert await feed.deliver([later]) == [later["id"]]
    assert ids(await search(q="jazz", sort="date")) == [1, 2, 3]


async def test_an_older_version_never_overwrites_a_newer_one_in_the_index(
    client, feed, search_app, opensearch
):
    await feed.publish(1, name="Jazz Night")
    await feed.publish(1, name="Jazz Night Reloaded")
    backend = search_app[SEARCH_BACKEND]
    stale = await _document(search_app, 1)
    stale_v1 = stale.model_copy(update={"event_version": 1, "name": "Jazz Night"})

    await backend._write(stale_v1)  # e.g. a slow writer or a reindex copying old data

    async with AsyncOpenSearch(hosts=[opensearch.url]) as os_client:
        stored = await os_client.get(index=ALIAS, id="1")
    assert stored["_source"]["name"] == "Jazz Night Reloaded"
    assert stored["_version"] == (2 << 32)


async def test_reindex_swaps_the_alias_while_searches_and_writes_continue(
    client, feed, search, search_app, opensearch
):
    await feed.events(*[feed.event(i, 1, name=f"Jazz Show {i}") for i in range(1, 61)])
    backend = search_app[SEARCH_BACKEND]
    async with AsyncOpenSearch(hosts=[opensearch.url]) as os_client:
        [old_index] = list(await os_client.indices.get_alias(name=ALIAS))
    during: list[dict] = []
    copy_batch = backend._bulk

    async def copy_while_the_world_moves_on(index, docs):
        # Runs between the reindex's snapshot and its alias swap.
        if not during:
            during.append(await search(q="jazz", limit=1))
            await feed.events(
                feed.event(1, 2, name="Jazz Show One Renamed"),
                feed.event(2, 2, name="Jazz Show 2", status="cancelled"),
                *[feed.event(i, 1, name=f"Jazz Show {i}") for i in range(61, 66)],
            )
            during.append(await search(q="jazz", limit=1))
        return await copy_batch(index, docs)

    backend._bulk = copy_while_the_world_moves_on
    report = await backend.reindex()

    assert [d["total"] for d in during] == [60, 64]  # answered throughout, from the old index
    assert report.previous == [old_index]
    assert report.documents == 60 and report.caught_up == 7
    async with AsyncOpenSearch(hosts=[opensearch.url]) as os_client:
        assert list(await os_client.indices.get_alias(name=ALIAS)) == [report.index]
        assert not await os_client.indices.exists(index=old_index)
    result = await search(q="jazz", limit=100, sort="date")
    assert result["total"] == 64
    assert 2 not in ids(result)
    assert names(await search(q="renamed")) == ["Jazz Show One Renamed"]
    # writes after the swap land in the new index
    await feed.publish(99, name="Jazz Finale")
    assert ids(await search(q="finale")) == [99]


async def test_only_one_reindex_runs_at_a_time(client, search_app, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        key = REINDEX_RUN_LOCK
        await conn.execute("SELECT pg_advisory_lock($1, $2)", key.namespace, key.ident)
        with pytest.raises(ReindexBusy):
            await search_app[SEARCH_BACKEND].reindex()
    finally:
        await conn.close()


async def test_evently_search_reindex_command_rebuilds_the_index(
    client, feed, search, opensearch, database_url, search_env
):
    await feed.publish(1, name="Jazz Night")
    await feed.publish(2, name="Opera Evening")
    # The command talks to no other service, so it needs no INTERNAL_API_KEY.
    env = {
        **{k: v for k, v in os.environ.items() if k != "INTERNAL_API_KEY"},
        **search_env,
        "DATABASE_URL": database_url,
    }

    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evently", "search", "reindex"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert (report["backend"], report["documents"]) == ("opensearch", 2)
    async with AsyncOpenSearch(hosts=[opensearch.url]) as os_client:
        assert list(await os_client.indices.get_alias(name=ALIAS)) == [report["index"]]
    assert names(await search(q="jazz")) == ["Jazz Night"]


async def _document(app, event_id):
    async with app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {DOCUMENT_COLUMNS} FROM search.documents WHERE event_id = $1", event_id
        )
    return SearchDocument.model_validate(dict(row))
