"""What a newcomer meets first: upcoming events by default, sensible limits, plain ETags."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evently.events.demo import EVENTS as DEMO_EVENTS
from evently.events.demo import load_demo_events
from tests.events.conftest import NOW, event_body
from tests.events.test_public_events import add, listed, names


@pytest.fixture
async def past_and_future(db) -> None:
    sale_from_long_ago = {"sale_opens_at": (NOW - timedelta(days=400)).isoformat()}
    await add(db, "Ended last year", days=-365, **sale_from_long_ago)
    await add(db, "Ended yesterday", days=-1, **sale_from_long_ago)
    await add(db, "Next week", days=7)
    await add(db, "Next month", days=30)


async def test_the_default_list_shows_events_that_have_not_ended(client, past_and_future):
    assert names(await listed(client)) == ["Next week", "Next month"]


async def test_include_past_or_an_explicit_range_shows_ended_events(client, past_and_future):
    assert names(await listed(client, include_past="true")) == [
        "Ended last year",
        "Ended yesterday",
        "Next week",
        "Next month",
    ]
    since = (NOW - timedelta(days=10)).date().isoformat()
    assert names(await listed(client, **{"from": since})) == [
        "Ended yesterday",
        "Next week",
        "Next month",
    ]


async def test_a_small_event_without_max_per_user_takes_its_capacity(client, tokens):
    response = await client.post(
        "/api/v1/admin/events",
        json=event_body(capacity=5, max_per_user=None),
        headers=tokens.admin(),
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["max_per_user"] == 5
    large = await client.post(
        "/api/v1/admin/events",
        json=event_body(name="Large", capacity=100, max_per_user=None),
        headers=tokens.admin(),
    )
    assert (await large.json())["max_per_user"] == 10


@pytest.mark.parametrize("tag", ['"0"', "0", '"99999999999999999999"'])
async def test_an_if_match_no_version_ever_had_is_412(client, tokens, tag):
    created = await client.post("/api/v1/admin/events", json=event_body(), headers=tokens.admin())
    event_id = (await created.json())["id"]
    response = await client.put(
        f"/api/v1/admin/events/{event_id}",
        json=event_body(name="Renamed"),
        headers={**tokens.admin(), "If-Match": tag},
    )
    assert response.status == 412, await response.text()


async def test_demo_events_that_have_ended_are_redated_on_the_next_load(client, db):
    assert await load_demo_events(db, NOW - timedelta(days=60)) == (len(DEMO_EVENTS), 0)
    assert (await listed(client))["total"] == 0  # all of them ended weeks ago
    assert await load_demo_events(db, NOW) == (0, len(DEMO_EVENTS))
    assert await load_demo_events(db, NOW) == (0, 0)
    page = await listed(client, limit=100)
    assert page["total"] == len(DEMO_EVENTS)
