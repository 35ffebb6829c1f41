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


async def test_a_user_sees_their_own_bookings_from_the_bookings_service(
    aiohttp_server, aiohttp_client, make_app, make_users_app
):
    """End to end: a token from users books in bookings; users lists exactly that booking."""
    from evently.core.auth import AUTHENTICATOR
    from tests.bookings.conftest import FAST_ENV, send_event

    users_app_for_keys = make_users_app()
    bookings_app = make_app("bookings", env=FAST_ENV)
    # Bookings verifies the users service's real tokens with the users service's keys.
    bookings_app[AUTHENTICATOR] = users_app_for_keys[AUTHENTICATOR]
    bookings_server = await aiohttp_server(bookings_app)
    bookings = await aiohttp_client(bookings_server)
    users = await aiohttp_client(
        make_users_app(env={"BOOKINGS_URL": str(bookings_server.make_url("/"))})
    )
    await send_event(bookings, 77)
    buyer = await register(users, "buyer@example.com")
    other = await register(users, "other@example.com")
    held = await bookings.post(
        "/api/v1/bookings",
        json={"event_id": 77, "quantity": 2},
        headers={**bearer(buyer["access_token"]), "Idempotency-Key": "k-1"},
    )
    assert held.status == 201, await held.text()
    booking = await held.json()

    mine = await users.get("/api/v1/users/bookings", headers=bearer(buyer["access_token"]))
    assert mine.status == 200
    page = await mine.json()
    assert page["total"] == 1
    assert [(b["id"], b["event_id"], b["quantity"]) for b in page["items"]] == [
        (booking["id"], 77, 2)
    ]
    theirs = await users.get("/api/v1/users/bookings", headers=bearer(other["access_token"]))
    assert (await theirs.json())["total"] == 0


async def test_a_bookings_deployment_without_the_route_is_a_503_not_an_empty_list(
    aiohttp_server, aiohttp_client, make_users_app
):
    from aiohttp import web

    missing = web.Application()  # answers 404 to everything, like an old bookings image
    server = await aiohttp_server(missing)
    client = await aiohttp_client(make_users_app(env={"BOOKINGS_URL": str(server.make_url("/"))}))
    session = await register(client, "old@example.com")
    response = await client.get("/api/v1/users/bookings", headers=bearer(session["access_token"]))
    assert response.status == 503
