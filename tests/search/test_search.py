"""Search behaviour, identical on both backends (see conftest: ``search_backend``).

Assertions are about which documents match and their order, never about scores.
"""

from __future__ import annotations

from evently.search.backend import SEARCH_BACKEND
from tests.search.conftest import facet, ids, names


async def test_name_matches_rank_above_venue_and_description_matches(feed, search):
    await feed.publish(1, name="Summer Fair", description="Food, music and some jazz.")
    await feed.publish(2, name="Jazz Night", description="An evening of standards.")
    await feed.publish(3, name="Rock Gala", venue="Jazz Cellar")
    await feed.publish(4, name="Opera Evening", description="Verdi arias.")

    result = await search(q="jazz")

    assert names(result) == ["Jazz Night", "Rock Gala", "Summer Fair"]
    assert result["total"] == 3
    assert result["sort"] == "relevance"


async def test_every_word_must_match_across_fields(feed, search):
    await feed.publish(1, name="Jazz Night", city="Berlin")
    await feed.publish(2, name="Jazz Night", city="Hamburg")
    await feed.publish(3, name="Techno Night", city="Berlin")

    assert ids(await search(q="jazz berlin")) == [1]
    assert ids(await search(q="night -techno", sort="date")) == [1, 2]


async def test_typo_tolerance_finds_jazz_night_for_jaz_nite(feed, search):
    await feed.publish(1, name="Jazz Night", venue="Blue Note")
    await feed.publish(2, name="Opera Evening", venue="State Opera")
    await feed.publish(3, name="Comedy Club", venue="Laugh Factory")

    assert names(await search(q="Jaz nite")) == ["Jazz Night"]
    assert names(await search(q="opra")) == ["Opera Evening"]
    assert names(await search(q="comedyy clup")) == ["Comedy Club"]


async def test_accents_and_case_are_ignored(feed, search):
    await feed.publish(1, name="Café Théâtre", city="Zürich")
    await feed.publish(2, name="Cafe Society", city="Zurich")

    assert ids(await search(q="CAFE", sort="date")) == [1, 2]
    assert ids(await search(q="théatre")) == [1]
    assert ids(await search(city="zurich", sort="date")) == [1, 2]


async def test_highlights_mark_matches_as_escaped_html(feed, search):
    await feed.publish(
        1,
        name="Jazz <b>Night</b>",
        description="Standards and bebop from the best jazz trio in town, all evening long.",
        venue="Blue Note",
    )

    [hit] = (await search(q="jazz"))["hits"]

    assert hit["highlights"]["name"] == "<em>Jazz</em> &lt;b&gt;Night&lt;/b&gt;"
    assert "<em>jazz</em>" in hit["highlights"]["description"]
    assert "venue" not in hit["highlights"]
    assert hit["name"] == "Jazz <b>Night</b>"


async def test_typo_matches_are_highlighted_too(feed, search):
    await feed.publish(1, name="Jazz Night")

    [hit] = (await search(q="jaz"))["hits"]

    assert hit["highlights"]["name"] == "<em>Jazz</em> Night"


async def test_hit_carries_the_event_fields(feed, search):
    await feed.publish(
        5,
        name="Jazz Night",
        description="Bebop",
        type="concert",
        starts_at="2031-06-01T19:00:00+00:00",
        price="49.90",
        currency="EUR",
        venue="Blue Note",
        city="Berlin",
        capacity=120,
    )

    [hit] = (await search(q="jazz"))["hits"]

    assert hit | {"highlights": None} == {
        "id": 5,
        "name": "Jazz Night",
        "description": "Bebop",
        "type": "concert",
        "starts_at": "2031-06-01T19:00:00Z",
        "ends_at": "2031-06-01T22:00:00Z",
        "price": "49.90",
        "currency": "EUR",
        "venue": {"id": 7005, "name": "Blue Note", "city": "Berlin"},
        "available": True,
        "sold_out": False,
        "seats_available": 120,
        "highlights": None,
    }


async def test_empty_query_with_filters_is_a_listing_by_date(feed, search):
    await feed.publish(1, name="Late", starts_at="2031-09-01T19:00:00+00:00")
    await feed.publish(2, name="Early", starts_at="2031-03-01T19:00:00+00:00")
    await feed.publish(3, name="Middle", starts_at="2031-06-01T19:00:00+00:00")

    result = await search(q="", type="concert")

    assert names(result) == ["Early", "Middle", "Late"]
    assert result["sort"] == "date"
    assert all(hit["highlights"] == {} for hit in result["hits"])


async def test_filter_by_city_and_type(feed, search):
    await feed.publish(1, type="concert", city="Berlin")
    await feed.publish(2, type="theatre", city="Berlin")
    await feed.publish(3, type="concert", city="Munich")

    assert ids(await search(city="Berlin", sort="date")) == [1, 2]
    assert ids(await search(type="concert", sort="date")) == [1, 3]
    assert ids(await search(city="Berlin", type="concert")) == [1]
    assert ids(await search(city="Paris")) == []


async def test_filter_by_start_date_range(feed, search):
    await feed.publish(1, starts_at="2031-05-31T23:59:59+00:00")
    await feed.publish(2, starts_at="2031-06-01T00:00:00+00:00")
    await feed.publish(3, starts_at="2031-06-30T23:59:00+00:00")
    await feed.publish(4, starts_at="2031-07-01T00:00:00+00:00")

    assert ids(await search(**{"from": "2031-06-01", "to": "2031-06-30"})) == [2, 3]
    assert ids(await search(**{"from": "2031-06-01T00:00:00Z"})) == [2, 3, 4]
    assert ids(await search(to="2031-06-01T00:00:00+00:00")) == [1]


async def test_filter_by_price_range(feed, search):
    await feed.publish(1, price="9.99")
    await feed.publish(2, price="10.00")
    await feed.publish(3, price="49.90")
    await feed.publish(4, price="50.01")

    assert ids(await search(min_price="10", max_price="49.90", sort="price")) == [2, 3]
    assert ids(await search(max_price="9.99")) == [1]
    assert ids(await search(min_price="50", sort="price")) == [4]


async def test_filter_available_excludes_sold_out_events(feed, search):
    await feed.publish(1, name="Plenty")
    await feed.publish(2, name="Gone")
    await feed.publish(3, name="Last seats")
    await feed.availability(2, available=0, sold_out=True)
    await feed.availability(3, available=2)

    assert names(await search(available="true", sort="date")) == ["Plenty", "Last seats"]
    assert names(await search(available="false")) == ["Gone"]
    [gone] = (await search(q="gone"))["hits"]
    assert (gone["available"], gone["sold_out"], gone["seats_available"]) == (False, True, 0)


async def test_sort_by_date_and_by_price(feed, search):
    await feed.publish(1, name="Jazz A", price="30.00", starts_at="2031-03-01T19:00:00+00:00")
    await feed.publish(2, name="Jazz B", price="10.00", starts_at="2031-02-01T19:00:00+00:00")
    await feed.publish(3, name="Jazz C", price="20.00", starts_at="2031-01-01T19:00:00+00:00")

    assert ids(await search(q="jazz", sort="date")) == [3, 2, 1]
    assert ids(await search(q="jazz", sort="price")) == [2, 3, 1]


async def test_facets_count_types_and_cities_each_honouring_the_other_filters(feed, search):
    await feed.publish(1, name="Jazz One", type="concert", city="Berlin", price="10.00")
    await feed.publish(2, name="Jazz Two", type="concert", city="Berlin", price="20.00")
    await feed.publish(3, name="Jazz Three", type="theatre", city="Berlin", price="20.00")
    await feed.publish(4, name="Jazz Four", type="concert", city="Munich", price="20.00")
    await feed.publish(5, name="Jazz Five", type="festival", city="Munich", price="99.00")
    await feed.publish(6, name="Opera", type="concert", city="Munich", price="20.00")

    everything = await search(q="jazz")
    assert facet(everything, "type") == {"concert": 3, "theatre": 1, "festival": 1}
    assert facet(everything, "city") == {"Berlin": 3, "Munich": 2}
    assert [f["value"] for f in everything["facets"]["type"]] == ["concert", "festival", "theatre"]

    narrowed = await search(q="jazz", type="concert", city="Berlin", max_price="50", sort="date")
    assert ids(narrowed) == [1, 2]
    assert narrowed["total"] == 2
    # type counts ignore the type filter but honour city, text and price
    assert facet(narrowed, "type") == {"concert": 2, "theatre": 1}
    # city counts ignore the city filter but honour type, text and price
    assert facet(narrowed, "city") == {"Berlin": 2, "Munich": 1}


async def test_pages_through_all_hits_without_overlap(feed, search):
    for event_id in range(1, 8):
        await feed.publish(
            event_id, name=f"Show {event_id}", starts_at=f"2031-01-0{event_id}T19:00:00Z"
        )

    pages = [await search(sort="date", limit=3, page=page) for page in (1, 2, 3, 4)]

    assert [ids(p) for p in pages] == [[1, 2, 3], [4, 5, 6], [7], []]
    assert {p["total"] for p in pages} == {7}
    assert (pages[1]["page"], pages[1]["limit"]) == (2, 3)


async def test_suggest_autocompletes_event_and_venue_names(feed, search):
    await feed.publish(1, name="Jazz Night", venue="Blue Note", city="Berlin")
    await feed.publish(2, name="Jazz Night", venue="Blue Note", city="Berlin")
    await feed.publish(3, name="Jazzfest Opening", venue="Jazz Hall", city="Bonn")
    await feed.publish(4, name="Opera Evening", venue="State Opera", city="Vienna")

    jaz = await search("/api/v1/search/suggest", q="jaz")
    assert sorted(jaz["events"]) == ["Jazz Night", "Jazzfest Opening"]
    assert jaz["venues"] == [{"name": "Jazz Hall", "city": "Bonn"}]

    blue = await search("/api/v1/search/suggest", q="Blu")
    assert blue["events"] == []
    assert blue["venues"] == [{"name": "Blue Note", "city": "Berlin"}]

    second_word = await search("/api/v1/search/suggest", q="even")
    assert second_word["events"] == ["Opera Evening"]


async def test_suggest_never_offers_hidden_events(feed, search):
    await feed.publish(1, name="Jazz Night")
    await feed.publish(2, name="Jazz Secret", status="draft")
    await feed.publish(1, name="Jazz Night", status="cancelled")

    assert (await search("/api/v1/search/suggest", q="jazz"))["events"] == []


async def test_draft_cancelled_and_completed_events_never_appear(feed, search):
    await feed.publish(1, name="Jazz Draft", status="draft")
    await feed.publish(2, name="Jazz Live")
    await feed.publish(3, name="Jazz Cancelled")
    await feed.publish(3, name="Jazz Cancelled", status="cancelled")
    await feed.publish(4, name="Jazz Done")
    await feed.publish(4, name="Jazz Done", status="completed")

    result = await search(q="jazz")
    assert names(result) == ["Jazz Live"]
    assert facet(result, "type") == {"concert": 1}
    assert (await search())["total"] == 1


async def test_publishing_a_draft_makes_it_appear(feed, search):
    await feed.publish(1, name="Jazz Draft", status="draft")
    assert (await search(q="jazz"))["total"] == 0

    await feed.publish(1, name="Jazz Premiere", status="published")

    assert names(await search(q="jazz")) == ["Jazz Premiere"]


async def test_updates_replace_the_indexed_event(feed, search):
    await feed.publish(1, name="Jazz Night", city="Berlin")
    await feed.publish(1, name="Swing Night", city="Hamburg")

    assert (await search(q="jazz"))["total"] == 0
    assert ids(await search(q="swing", city="Hamburg")) == [1]


async def test_older_event_versions_arriving_late_are_ignored(feed, search):
    v1 = feed.event(1, 1, name="Jazz Night")
    v2 = feed.event(1, 2, name="Swing Night")
    v3 = feed.event(1, 3, name="Swing Night", status="cancelled")

    assert len(await feed.events(v2)) == 1
    assert len(await feed.events(v1)) == 1  # acknowledged, but changes nothing
    assert names(await search(q="night")) == ["Swing Night"]

    await feed.events(v3)
    await feed.events(v2, v1)  # a cancelled event is not brought back by old news
    assert (await search(q="night"))["total"] == 0


async def test_redelivered_messages_are_acknowledged_and_applied_once(feed, search):
    first = feed.message("event.changed", feed.event(1, 1, name="Jazz Night"))
    assert await feed.deliver([first]) == [first["id"]]
    assert await feed.deliver([first, first]) == [first["id"], first["id"]]

    assert names(await search(q="jazz")) == ["Jazz Night"]


async def test_older_availability_arriving_late_is_ignored(feed, search):
    await feed.publish(1, name="Jazz Night")
    newer = feed.inventory(1, 5, available=0, sold_out=True)
    older = feed.inventory(1, 4, available=30)

    await feed.deliver([feed.message("inventory.changed", newer)])
    await feed.deliver([feed.message("inventory.changed", older)])

    [hit] = (await search(q="jazz"))["hits"]
    assert (hit["sold_out"], hit["available"], hit["seats_available"]) == (True, False, 0)


async def test_availability_arriving_before_its_event_is_kept(feed, search):
    await feed.deliver(
        [feed.message("inventory.changed", feed.inventory(1, 3, available=0, sold_out=True))]
    )
    assert (await search())["total"] == 0

    await feed.publish(1, name="Jazz Night")

    [hit] = (await search(q="jazz"))["hits"]
    assert (hit["sold_out"], hit["available"]) == (True, False)


async def test_event_update_keeps_newer_availability(feed, search):
    """Event and inventory versions are independent: neither may overwrite the other."""
    await feed.publish(1, name="Jazz Night")
    for _ in range(3):
        await feed.publish(1, name="Jazz Night")  # event version 4
    await feed.availability(1, available=0, sold_out=True)  # inventory version 1
    await feed.publish(1, name="Jazz Night Live")  # event version 5

    [hit] = (await search(q="jazz"))["hits"]
    assert (hit["name"], hit["sold_out"]) == ("Jazz Night Live", True)
    await feed.availability(1, available=4)  # inventory version 2, after event version 5
    [hit] = (await search(q="jazz"))["hits"]
    assert (hit["sold_out"], hit["seats_available"]) == (False, 4)


async def test_reindex_keeps_every_result(feed, search, search_app):
    await feed.publish(1, name="Jazz Night")
    await feed.publish(2, name="Jazz Brunch", status="draft")
    await feed.publish(3, name="Jazz Picnic")
    before = await search(q="jazz", sort="date")

    report = await search_app[SEARCH_BACKEND].reindex()

    assert report.documents == 2
    assert await search(q="jazz", sort="date") == before
    assert ids(before) == [1, 3]


async def test_typo_tolerance_does_not_replace_an_empty_filtered_result(feed, search):
    await feed.publish(1, name="Hamlet", city="Berlin")
    await feed.publish(2, name="Gamlet Remix", city="Munich")

    # "hamlet" is spelt right: in Munich there is none, and that is the answer.
    assert ids(await search(q="hamlet", city="Munich")) == []
    assert ids(await search(q="hamlet")) == [1]


async def test_hyphenated_words_match_with_or_without_the_hyphen(feed, search):
    await feed.publish(1, name="Hip-Hop Jam")
    await feed.publish(2, name="Stand up comedy")

    assert ids(await search(q="hip-hop")) == [1]
    assert ids(await search(q="hip hop jam")) == [1]
    assert ids(await search(q="stand-up")) == [2]


async def test_query_syntax_never_fails(feed, search):
    await feed.publish(1, name="Jazz Night")

    for q in ['"', "-", "(", "a:b", "!!", "%", "_", "x'y", "a & b | !c", "jazz:*", "or", "日本"]:
        # ``search`` asserts a 200 answer
        assert (await search(q=q))["total"] <= 1, q
        suggestions = await search("/api/v1/search/suggest", q=q)
        assert suggestions["q"] == q.strip()


async def test_events_that_have_ended_are_found_only_when_asked_for(feed, search, subtests):
    await feed.publish(1, name="Jazz of the past", starts_at="2020-01-01T19:00:00+00:00")
    await feed.publish(2, name="Jazz to come", starts_at="2031-06-01T19:00:00+00:00")

    with subtests.test("default: upcoming only"):
        assert ids(await search(q="jazz")) == [2]
        assert ids(await search()) == [2]
    with subtests.test("include_past"):
        assert ids(await search(q="jazz", include_past="true", sort="date")) == [1, 2]
    with subtests.test("an explicit range"):
        assert ids(await search(**{"from": "2019-01-01"}, sort="date")) == [1, 2]


async def test_text_with_date_and_price_ranges_keeps_their_exact_bounds(feed, search):
    # PostgreSQL passes a text search's ranges to the text index as keys covering whole
    # days, weeks, months or currency units (range_keys.py); the bounds themselves are
    # still exact, at a day's, a month's and a year's edge alike.
    starts = [
        "2031-05-31T23:59:59+00:00",  # 1: the second before `from`
        "2031-06-01T00:00:00+00:00",  # 2: `from` itself
        "2031-06-15T12:00:00+00:00",  # 3
        "2031-07-31T23:59:59+00:00",  # 4: the last second of `to`'s day
        "2031-08-01T00:00:00+00:00",  # 5: just past `to`
        "2032-12-31T23:00:00+00:00",  # 6
    ]
    for event_id, starts_at in enumerate(starts, 1):
        await feed.publish(event_id, name=f"Jazz {event_id}", starts_at=starts_at, price="500")
    prices = {7: "9.99", 8: "10.00", 9: "99.99", 10: "100.00", 11: "100.01"}
    for event_id, price in prices.items():
        await feed.publish(
            event_id, name=f"Jazz {event_id}", price=price, starts_at="2033-03-01T19:00:00Z"
        )

    in_june_july = await search(q="jazz", sort="date", **{"from": "2031-06-01", "to": "2031-07-31"})
    assert ids(in_june_july) == [2, 3, 4]
    one_day = await search(q="jazz", sort="date", **{"from": "2031-06-15", "to": "2031-06-15"})
    assert ids(one_day) == [3]
    two_years = await search(q="jazz", sort="date", **{"from": "2031-01-01", "to": "2032-12-31"})
    assert ids(two_years) == [1, 2, 3, 4, 5, 6]
    assert ids(await search(q="jazz", min_price="10", max_price="100", sort="price")) == [8, 9, 10]
    assert ids(await search(q="jazz", min_price="9.995", max_price="99.99", sort="price")) == [
        8,
        9,
    ]
