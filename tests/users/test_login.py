"""POST /api/v1/auth/login and /api/v1/auth/admin/login."""

from __future__ import annotations

import jwt

from evently.users import passwords
from tests.users.helpers import PASSWORD, admin_session, decode_segment, login, register


async def test_login_returns_a_session_for_the_right_password(users):
    registered = await register(users, "bob@example.com")
    response = await login(users, "bob@example.com")
    assert response.status == 200
    body = await response.json()
    assert body["user"]["id"] == registered["user"]["id"]
    assert body["refresh_token"] != registered["refresh_token"]


async def test_login_ignores_case_and_surrounding_space_of_the_email(users):
    await register(users, "carol@example.com")
    response = await login(users, "  CAROL@Example.com ")
    assert response.status == 200


async def test_wrong_password_and_unknown_email_get_the_same_answer(users):
    await register(users, "dave@example.com")
    wrong_password = await login(users, "dave@example.com", "Wrong-password-1")
    unknown_email = await login(users, "nobody@example.com", "Wrong-password-1")
    assert wrong_password.status == unknown_email.status == 401
    assert await wrong_password.json() == await unknown_email.json()
    assert (await wrong_password.json())["code"] == "invalid_credentials"


async def test_an_unknown_email_still_costs_a_bcrypt_check(users, monkeypatch):
    checked: list[bytes] = []
    real_checkpw = passwords.bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(passwords.bcrypt, "checkpw", spy)
    response = await login(users, "ghost@example.com", "Whatever-pass-1")
    assert response.status == 401
    assert checked == [passwords.dummy_hash(4).encode()]


async def test_an_overlong_password_is_just_wrong(users):
    await register(users, "long@example.com")
    response = await login(users, "long@example.com", PASSWORD + "x" * 200)
    assert response.status == 401


async def test_login_with_missing_fields_or_bad_json_is_a_400(users):
    response = await users.post("/api/v1/auth/login", json={"email": "a@example.com"})
    assert response.status == 400
    assert (await response.json())["errors"] == [
        {"field": "body.password", "reason": "Field required"}
    ]
    response = await users.post(
        "/api/v1/auth/login", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["code"] == "malformed_json"


async def test_the_access_token_follows_the_contract(users, signing_key):
    registered = await register(users, "claims@example.com")
    token = registered["access_token"]
    header = decode_segment(token.split(".")[0])
    assert header["alg"] == "EdDSA"
    assert header["kid"] == signing_key.kid
    claims = jwt.decode(
        token,
        signing_key.private_key.public_key(),
        algorithms=["EdDSA"],
        audience="evently",
        issuer="evently-users",
    )
    assert set(claims) == {
        "iss", "aud", "sub", "email", "email_verified", "roles", "perms", "typ", "iat", "nbf",
        "exp", "jti",
    }  # fmt: skip
    assert claims["sub"] == str(registered["user"]["id"])
    assert claims["email"] == "claims@example.com"
    assert claims["roles"] == ["customer"]
    assert claims["perms"] == []
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]


async def test_admin_login_works_for_an_admin_and_carries_its_permissions(users, signing_key):
    session = await admin_session(users, "boss@example.com")
    claims = jwt.decode(
        session["access_token"],
        signing_key.private_key.public_key(),
        algorithms=["EdDSA"],
        audience="evently",
    )
    assert claims["roles"] == ["admin"]
    assert set(claims["perms"]) == {
        "events:write",
        "analytics:read",
        "bookings:read",
        "users:admin",
    }


async def test_admin_login_refuses_a_customer_like_a_wrong_password(users):
    await register(users, "erin@example.com")
    as_admin = await login(users, "erin@example.com", admin=True)
    wrong = await login(users, "nobody@example.com", admin=True)
    assert as_admin.status == 401
    assert await as_admin.json() == await wrong.json()


async def test_admins_can_also_use_the_ordinary_login(users):
    await admin_session(users, "root2@example.com")
    response = await login(users, "root2@example.com")
    assert response.status == 200
    assert (await response.json())["user"]["roles"] == ["admin"]
