"""POST /api/v1/auth/admin/register: admins create admins; nobody else can."""

from __future__ import annotations

import time

from evently.users.tokens import access_claims, sign
from tests.users.helpers import PASSWORD, admin_session, bearer, login, register

NEW_ADMIN = {"email": "Helper@Example.com", "password": "Helper-admin-pass-1", "name": "Helper"}


async def admin_register(client, headers=None, **body):
    return await client.post(
        "/api/v1/auth/admin/register", json=body or NEW_ADMIN, headers=headers or {}
    )


async def test_an_admin_registers_another_admin_who_can_log_in(users):
    root = await admin_session(users)
    response = await admin_register(users, bearer(root["access_token"]))
    assert response.status == 201
    created = await response.json()
    assert created["email"] == "helper@example.com"
    assert created["roles"] == ["admin"]
    assert "users:admin" in created["permissions"]
    assert (
        await login(users, "helper@example.com", "Helper-admin-pass-1", admin=True)
    ).status == 200


async def test_admin_register_without_a_token_is_a_401(users):
    response = await admin_register(users)
    assert response.status == 401


async def test_a_customer_cannot_register_admins(users):
    customer = await register(users, "sneaky@example.com")
    response = await admin_register(users, bearer(customer["access_token"]))
    assert response.status == 403
    assert (await response.json())["code"] == "admin_required"


async def test_an_admin_without_users_admin_permission_cannot_register_admins(users, signing_key):
    root = await admin_session(users)
    claims = access_claims(
        {**root["user"], "permissions": ["events:write"]}, 900, now=int(time.time())
    )
    response = await admin_register(users, bearer(sign(claims, signing_key)))
    assert response.status == 403
    assert (await response.json())["code"] == "permission_required"


async def test_admin_register_validates_like_register(users):
    root = await admin_session(users)
    headers = bearer(root["access_token"])
    weak = await admin_register(users, headers, email="a@example.com", password="weakweakweak")
    assert weak.status == 400
    assert (await weak.json())["errors"][0]["field"] == "body.password"
    taken = await admin_register(users, headers, email="ROOT@example.com", password=PASSWORD)
    assert taken.status == 409
    missing = await users.post("/api/v1/auth/admin/register", json={"x": 1}, headers=headers)
    assert missing.status == 400


async def test_there_is_no_open_admin_sign_up(users):
    response = await users.post(
        "/api/v1/auth/register",
        json={"email": "wannabe@example.com", "password": PASSWORD, "roles": ["admin"]},
    )
    assert response.status == 400
    session = await register(users, "wannabe@example.com")
    assert session["user"]["roles"] == ["customer"]


async def test_an_admin_creates_customers_beyond_the_registration_throttle(users):
    root = await admin_session(users)
    headers = bearer(root["access_token"])
    for i in range(25):  # more than one address may register per window (20)
        body = {"email": f"buyer{i}@example.com", "password": PASSWORD, "name": f"Buyer {i}"}
        response = await users.post("/api/v1/auth/admin/customers", json=body, headers=headers)
        assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["roles"], created["permissions"]) == (["customer"], [])
    assert (await login(users, "buyer24@example.com", PASSWORD)).status == 200
    customer = await register(users, "plain@example.com")
    refused = await users.post(
        "/api/v1/auth/admin/customers",
        json={"email": "x@example.com", "password": PASSWORD},
        headers=bearer(customer["access_token"]),
    )
    assert refused.status == 403
