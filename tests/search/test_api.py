"""The HTTP contract: bad parameters are 400s naming the parameter, and change nothing."""

from __future__ import annotations

import pytest

BAD_SEARCH_PARAMETERS = [
    ({"colour": "red"}, "query.colour"),
    ({"sort": "popularity"}, "query.sort"),
    ({"page": "0"}, "query.page"),
    ({"page": "two"}, "query.page"),
    ({"limit": "101"}, "query.limit"),
    ({"limit": "100", "page": "101"}, "query.page"),
    ({"min_price": "-1"}, "query.min_price"),
    ({"max_price": "ten"}, "query.max_price"),
    ({"min_price": "20", "max_price": "10"}, "query.max_price"),
    ({"from": "next week"}, "query.from"),
    ({"from": "2031-06-02", "to": "2031-06-01"}, "query.to"),
    ({"available": "maybe"}, "query.available"),
    ({"q": "x" * 201}, "query.q"),
]
BAD_SUGGEST_PARAMETERS = [
    ({}, "query.q"),
    ({"q": " "}, "query.q"),
    ({"q": "ja", "limit": "50"}, "query.limit"),
    ({"q": "ja", "page": "2"}, "query.page"),
]


# Validation happens before any backend is involved: one backend is enough.
@pytest.mark.parametrize("search_backend", ["postgres"])
async def test_bad_search_parameters_are_400_naming_the_parameter(client, feed, search):
    await feed.publish(1, name="Jazz Night")
    for params, field in BAD_SEARCH_PARAMETERS:
        response = await client.get("/api/v1/search", params=params)

        assert response.status == 400, params
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        assert problem["code"] == "validation_failed"
        assert [e["field"] for e in problem["errors"]] == [field], params
        assert field.removeprefix("query.") in problem["detail"]
    assert (await search())["total"] == 1


@pytest.mark.parametrize("search_backend", ["postgres"])
async def test_bad_suggest_parameters_are_400_naming_the_parameter(client):
    for params, field in BAD_SUGGEST_PARAMETERS:
        response = await client.get("/api/v1/search/suggest", params=params)

        assert response.status == 400, params
        assert [e["field"] for e in (await response.json())["errors"]] == [field], params


async def test_inbox_requires_the_internal_key(client, feed, search):
    message = feed.message("event.changed", feed.event(1))
    response = await client.post(
        "/internal/inbox",
        json={"source": "events", "messages": [message]},
        headers={"X-Internal-Key": "not-the-key-0123456789"},
    )

    assert response.status == 401
    assert (await search())["total"] == 0


async def test_search_routes_are_in_the_openapi_document(client):
    document = await (await client.get("/openapi.json")).json()

    assert {"/api/v1/search", "/api/v1/search/suggest", "/internal/inbox"} <= set(document["paths"])


async def test_readyz_reports_the_search_backend(client):
    response = await client.get("/readyz")

    assert response.status == 200, await response.text()
    assert (await response.json())["checks"]["search_backend_ready"] == "ok"
