"""Counting stops at SEARCH_COUNT_LIMIT (here 3), on both backends; pages stay exact.

Past the limit the total is the limit with ``total_is_exact`` false (OpenSearch's
``track_total_hits``). PostgreSQL then counts the facets over the matches it read
(``facets_are_exact`` false); OpenSearch's aggregations stay exact.
"""

from __future__ import annotations

import pytest

from tests.search.conftest import facet, ids

LIMIT = 3


@pytest.fixture
def search_env(search_env: dict[str, str]) -> dict[str, str]:
    return search_env | {"SEARCH_COUNT_LIMIT": str(LIMIT)}


async def publish_jazz(feed, count: int, **fields) -> None:
    for event_id in range(1, count + 1):
        await feed.publish(
            event_id,
            name=f"Jazz {event_id}",
            starts_at=f"2031-01-0{event_id}T19:00:00Z",
            price=f"{10 * (count + 1 - event_id)}.00",
            **fields,
        )


async def test_totals_up_to_the_limit_are_exact(feed, search):
    await publish_jazz(feed, LIMIT)

    for result in (await search(q="jazz"), await search(type="concert")):
        assert (result["total"], result["total_is_exact"]) == (LIMIT, True)
        assert result["facets_are_exact"] is True
        assert facet(result, "type") == {"concert": LIMIT}


async def test_past_the_limit_the_total_is_the_limit_and_says_it_is_not_exact(feed, search):
    await publish_jazz(feed, LIMIT + 2)

    past = [await search(q="jazz", limit=2), await search(), await search(city="Berlin")]
    for result in past:
        assert (result["total"], result["total_is_exact"]) == (LIMIT, False)
    narrowed = await search(q="jazz", max_price="20")
    assert (narrowed["total"], narrowed["total_is_exact"]) == (2, True)


async def test_past_the_limit_facets_count_what_was_read_or_everything(
    feed, search, search_backend
):
    await publish_jazz(feed, LIMIT + 2)

    result = await search(q="jazz", limit=2)

    counted = sum(facet(result, "type").values())
    if search_backend == "postgres":
        assert result["facets_are_exact"] is False
        assert LIMIT <= counted <= LIMIT + 1  # lower bounds: the matches read
    else:
        assert result["facets_are_exact"] is True
        assert counted == LIMIT + 2


async def test_pages_past_the_limit_are_still_in_order(feed, search):
    await publish_jazz(feed, LIMIT + 2)  # earlier events are dearer

    by_date = [await search(sort="date", limit=2, page=page) for page in (1, 2, 3)]
    assert [ids(page) for page in by_date] == [[1, 2], [3, 4], [5]]
    by_price = [await search(q="jazz", sort="price", limit=2, page=page) for page in (1, 2, 3)]
    assert [ids(page) for page in by_price] == [[5, 4], [3, 2], [1]]


async def test_relevance_ranks_at_least_a_page_of_candidates(feed, search):
    await feed.publish(9, name="Quiet Evening", description="jazz trio, late")
    await publish_jazz(feed, LIMIT + 2, description="")

    whole = await search(q="jazz", limit=6)  # a page larger than the limit: all read
    assert (whole["total"], whole["total_is_exact"]) == (6, True)
    assert sorted(ids(whole)) == [1, 2, 3, 4, 5, 9]
    deep = await search(q="jazz", limit=2, page=3)
    assert len(ids(deep)) == 2


async def publish_jazz_in(feed, event_id: int, type_: str, city: str) -> None:
    await feed.publish(event_id, name=f"Jazz {event_id}", type=type_, city=city)


async def test_filters_that_narrow_a_full_read_still_count_exactly(feed, search):
    # PostgreSQL reads the matches of every filter but type first (limit + 1 of them;
    # for relevance at least a page's end, hence limit=2): here mostly theatre, so the
    # concerts are counted by a read of their own.
    for event_id in range(1, LIMIT + 3):
        await publish_jazz_in(feed, event_id, "theatre", "Berlin")
    await publish_jazz_in(feed, 10, "concert", "Berlin")
    await publish_jazz_in(feed, 11, "concert", "Munich")

    concerts = await search(q="jazz", type="concert", limit=2)
    assert (concerts["total"], concerts["total_is_exact"]) == (2, True)
    assert sorted(ids(concerts)) == [10, 11]
    assert facet(concerts, "city") == {"Berlin": 1, "Munich": 1}
    in_berlin = await search(q="jazz", type="concert", city="Berlin", sort="date")
    assert (in_berlin["total"], in_berlin["total_is_exact"]) == (1, True)
    assert ids(in_berlin) == [10]
    # The city facet honours the type filter: concerts in every city.
    assert facet(in_berlin, "city") == {"Berlin": 1, "Munich": 1}
    listing = await search(type="concert", city="Munich")
    assert (listing["total"], listing["total_is_exact"], ids(listing)) == (1, True, [11])
    assert facet(listing, "city") == {"Berlin": 1, "Munich": 1}


async def test_a_rare_combination_is_counted_from_the_first_read(feed, search):
    await publish_jazz_in(feed, 1, "concert", "Berlin")
    await publish_jazz_in(feed, 2, "theatre", "Berlin")
    await publish_jazz_in(feed, 3, "concert", "Munich")

    result = await search(q="jazz", type="concert", city="Berlin")

    assert (result["total"], result["total_is_exact"], ids(result)) == (1, True, [1])
    assert result["facets_are_exact"] is True
    assert facet(result, "type") == {"concert": 1, "theatre": 1}
    assert facet(result, "city") == {"Berlin": 1, "Munich": 1}
