"""Checking responses against the OpenAPI document: the function and the suite's hook."""

from __future__ import annotations

from typing import Any

from tests.support import response_checks
from tests.support.openapi_validation import validate_response

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/things/{id}": {
            "get": {
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        }
                    },
                    "404": {
                        "content": {
                            "application/problem+json": {
                                "schema": {"type": "object", "required": ["code"]}
                            }
                        }
                    },
                    "204": {"description": "No content"},
                }
            }
        }
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            }
        }
    },
}


def check(status: int, content_type: str | None, body: Any, path: str = "/things/{id}") -> list:
    return validate_response(DOCUMENT, "GET", path, status, content_type, body)


def test_a_conforming_response_has_no_problems():
    assert check(200, "application/json; charset=utf-8", b'{"id": 1, "name": "x"}') == []
    assert check(404, "application/problem+json", '{"code": "not_found"}') == []
    assert check(204, None, b"") == []


def test_each_kind_of_mismatch_is_reported():
    assert "not in the OpenAPI document" in check(200, "application/json", b"{}", "/nope")[0]
    assert "status 418 is not declared" in check(418, "application/json", b"{}")[0]
    assert "media type 'text/html' not declared" in check(200, "text/html", b"<p>")[0]
    assert "declares no body" in check(204, "application/json", b"{}")[0]
    assert "not JSON" in check(200, "application/json", b"{")[0]
    problems = check(200, "application/json", b'{"id": "one"}')
    assert any("id: 'one' is not of type 'integer'" in p for p in problems)
    assert any("'name' is a required property" in p for p in problems)


async def test_the_suite_checks_every_response_a_service_sends(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    assert (await client.get("/api/v1/liar")).status == 200
    found = list(response_checks._problems)
    response_checks._problems.clear()  # this test's own mismatch was on purpose
    assert len(found) == 1
    assert "GET /api/v1/liar -> 200: (body): 'promised' is a required property" in found[0]
