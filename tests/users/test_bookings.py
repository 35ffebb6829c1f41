"""GET /api/v1/users/bookings, answered by the real bookings service's internal API."""

from __future__ import annotations

import socket

import pytest

from tests.users.helpers import bearer, register


@pytest.fixture
async def users_with_bookings(aiohttp_server, aiohttp_client, make_app, make_users_app):
    """The users app pointed at a real bookings app on its own port."""
    bookings = await aiohttp_server(make_app("bookings"))
    return await aiohttp_client(make_users_app(env={"BOOKINGS_URL": str(bookings.make_url("/"))}))


async def test_a_user_without_bookings_gets_an_empty_page(users_with_bookings):
    session = await register(users_with_bookings, "nobookings@example.com")
    response = await users_with_bookings.get(
        "/api/v1/users/bookings", headers=bearer(session["access_token"])
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"items": [], "total": 0, "page": 1, "limit": 20}


async def test_page_and_limit_are_passed_through(users_with_bookings):
    session = await register(users_with_bookings, "paging@example.com")
    response = await users_with_bookings.get(
        "/api/v1/users/bookings?page=3&limit=5", headers=bearer(session["access_token"])
    )
    assert response.status == 200
    assert await response.json() == {"items": [], "total": 0, "page": 3, "limit": 5}


async def test_bad_paging_is_a_400(users_with_bookings):
    session = await register(users_with_bookings, "badpage@example.com")
    for query in ("page=0", "limit=101", "limit=x", "sort=asc"):
        response = await users_with_bookings.get(
            f"/api/v1/users/bookings?{query}", headers=bearer(session["access_token"])
        )
        assert response.status == 400, query


async def test_bookings_need_a_token(users_with_bookings):
    assert (await users_with_bookings.get("/api/v1/users/bookings")).status == 401


async def test_an_unreachable_bookings_service_is_a_503(aiohttp_client, make_users_app):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = await aiohttp_client(make_users_app(env={"BOOKINGS_URL": f"http://127.0.0.1:{port}"}))
    session = await register(client, "down@example.com")
    response = await client.get("/api/v1/users/bookings", headers=bearer(session["access_token"]))
    assert response.status == 503
    assert response.headers["Retry-After"] == "2"
    assert (await response.json())["code"] == "bookings_unavailable"
