"""Hostile input is a 400 naming the field, never a 500, and changes nothing."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.events.conftest import event_body
from tests.support.tokens import TokenMinter

NUL = "\x00"


def assert_names_field(body: dict, field: str, code: str = "validation_failed") -> None:
    assert body["code"] == code, body
    assert field in [error["field"] for error in body.get("errors", [])], body


@pytest.mark.parametrize(
    ("service", "path", "field"),
    [
        ("events", "/api/v1/events?city=%00", "query.city"),
        ("events", "/api/v1/events?type=a%00b", "query.type"),
        ("search", "/api/v1/search?q=%00", "query.q"),
        ("search", "/api/v1/search/suggest?q=ja%00", "query.q"),
    ],
)
async def test_nul_in_a_query_parameter_is_a_400(service_client, service, path, field) -> None:
    client = await service_client(service)
    response = await client.get(path)
    assert response.status == 400, await response.text()
    assert_names_field(await response.json(), field)


async def test_nul_in_login_is_a_400_and_does_not_count_against_the_throttle(
    service_client,
) -> None:
    users = await service_client("users", LOGIN_ADDRESS_MAX_ATTEMPTS="3")
    for _ in range(6):
        response = await users.post(
            "/api/v1/auth/login", json={"email": f"a{NUL}@example.com", "password": "x" * 12}
        )
        assert response.status == 400, await response.text()
        assert_names_field(await response.json(), "body.email")
    registered = await users.post(
        "/api/v1/auth/register",
        json={"email": "fine@example.com", "password": "correct-Horse-battery", "name": "Fine"},
    )
    assert registered.status == 201, await registered.text()
    login = await users.post(
        "/api/v1/auth/login",
        json={"email": "fine@example.com", "password": "correct-Horse-battery"},
    )
    assert login.status == 200, await login.text()


async def test_nul_in_register_and_profile_names_is_a_400(service_client) -> None:
    users = await service_client("users")
    response = await users.post(
        "/api/v1/auth/register",
        json={"email": "n@example.com", "password": "correct-Horse-battery", "name": f"a{NUL}"},
    )
    assert response.status == 400
    assert_names_field(await response.json(), "body.name")
    ok = await users.post(
        "/api/v1/auth/register",
        json={"email": "n@example.com", "password": "correct-Horse-battery", "name": "N"},
    )
    assert ok.status == 201, await ok.text()
    token = (await ok.json())["access_token"]
    profile = await users.put(
        "/api/v1/users/profile",
        json={"name": f"b{NUL}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert profile.status == 400, await profile.text()
    assert_names_field(await profile.json(), "body.name")
    unchanged = await users.get(
        "/api/v1/users/profile", headers={"Authorization": f"Bearer {token}"}
    )
    assert (await unchanged.json())["name"] == "N"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": f"x{NUL}"}, "body.name"),
        ({"description": f"x{NUL}"}, "body.description"),
        (
            {"venue": {"name": f"Hall{NUL}", "address": "1 Main", "city": "Berlin"}},
            "body.venue.name",
        ),
        (
            {"venue": {"name": "Hall", "address": "1 Main", "city": f"B{NUL}"}},
            "body.venue.city",
        ),
    ],
)
async def test_nul_in_an_admin_event_is_a_400_and_creates_nothing(
    service_client, admin_headers, overrides, field
) -> None:
    events = await service_client("events")
    response = await events.post(
        "/api/v1/admin/events", json=event_body(**overrides), headers=admin_headers
    )
    assert response.status == 400, await response.text()
    assert_names_field(await response.json(), field)
    listing = await events.get("/api/v1/admin/events", headers=admin_headers)
    assert (await listing.json())["total"] == 0


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000, b'{"a":' * 5000, json.dumps(json.loads("[" * 40 + "]" * 40)).encode()],
    ids=["5000-arrays", "5000-objects", "40-levels"],
)
async def test_deep_json_nesting_is_a_400(service_client, body: bytes) -> None:
    users = await service_client("users")
    response = await users.post(
        "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400, await response.text()
    assert (await response.json())["code"] == "malformed_json"


@pytest.mark.parametrize("sub", ["not-a-number", "1" * 30, "0", "-5", "1" * 5000, "١٢"])
async def test_a_signed_token_with_a_malformed_subject_is_a_401(
    service_client, tokens: TokenMinter, sub: str
) -> None:
    bookings = await service_client("bookings")
    token = tokens.token(1, sub=sub)
    response = await bookings.get("/api/v1/bookings", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401, await response.text()
    assert (await response.json())["code"] == "invalid_token"


async def test_a_gzipped_body_is_read_by_a_service(service_client) -> None:
    users = await service_client("users")
    body = gzip.compress(json.dumps({"email": "x@example.com", "password": "y" * 12}).encode())
    response = await users.post(
        "/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status == 401, await response.text()
    assert (await response.json())["code"] == "invalid_credentials"
