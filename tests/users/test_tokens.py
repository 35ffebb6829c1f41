"""Access tokens that must be refused: expired, tampered, unknown kid, algorithm tricks."""

from __future__ import annotations

import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from evently.users.keys import SigningKey
from evently.users.tokens import access_claims, sign
from tests.users.helpers import (
    INTERNAL,
    b64url,
    b64url_json,
    bearer,
    decode_segment,
    new_signing_key,
    register,
)


@pytest.fixture
async def account(users):
    """A registered customer: its session body."""
    return await register(users, "tok@example.com")


def claims_for(session, **changes):
    user = {**session["user"]}
    now = changes.pop("now", int(time.time()))
    return {**access_claims(user, 900, now=now), **changes}


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}.{b64url(signature)}"


async def assert_refused(users, token: str, code: str = "invalid_token") -> None:
    """Both the guard on a public route and the internal verify endpoint refuse it."""
    response = await users.get("/api/v1/users/profile", headers=bearer(token))
    assert response.status == 401, await response.text()
    assert (await response.json())["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    verify = await users.post("/internal/auth/verify", json={"token": token}, headers=INTERNAL)
    assert verify.status == 401
    assert (await verify.json())["code"] == code


async def test_a_genuine_token_is_accepted(users, account, signing_key):
    token = sign(claims_for(account), signing_key)
    response = await users.get("/api/v1/users/profile", headers=bearer(token))
    assert response.status == 200


async def test_an_expired_token_is_refused(users, account, signing_key):
    token = sign(claims_for(account, now=int(time.time()) - 3600), signing_key)
    await assert_refused(users, token, code="token_expired")


async def test_a_token_not_yet_valid_is_refused(users, account, signing_key):
    token = sign(claims_for(account, nbf=int(time.time()) + 600), signing_key)
    await assert_refused(users, token)


async def test_a_tampered_payload_is_refused(users, account):
    header, _, signature = account["access_token"].split(".")
    claims = decode_segment(account["access_token"].split(".")[1])
    claims["roles"], claims["perms"] = ["admin"], ["users:admin"]
    await assert_refused(users, f"{header}.{b64url_json(claims)}.{signature}")


async def test_a_tampered_signature_is_refused(users, account):
    header, payload, signature = account["access_token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await assert_refused(users, f"{header}.{payload}.{flipped}")


async def test_an_unknown_kid_is_refused(users, account):
    foreign = new_signing_key("not-our-key")
    await assert_refused(users, sign(claims_for(account), foreign))


async def test_a_foreign_key_claiming_our_kid_is_refused(users, account, signing_key):
    impostor = SigningKey(signing_key.kid, new_signing_key("x").private_key)
    await assert_refused(users, sign(claims_for(account), impostor))


async def test_a_token_without_kid_is_refused(users, account, signing_key):
    token = jwt.encode(claims_for(account), signing_key.private_key, algorithm="EdDSA")
    await assert_refused(users, token)


async def test_alg_none_is_refused(users, account, signing_key):
    for alg in ("none", "None", "NONE"):
        token = unsigned({"alg": alg, "kid": signing_key.kid, "typ": "JWT"}, claims_for(account))
        await assert_refused(users, token)


async def test_hs256_signed_with_the_public_key_is_refused(users, account, signing_key):
    public = signing_key.private_key.public_key()
    secrets_an_attacker_might_try = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes_raw(),
        signing_key.public_jwk()["x"].encode(),
    ]
    for secret in secrets_an_attacker_might_try:
        header = b64url_json({"alg": "HS256", "kid": signing_key.kid, "typ": "JWT"})
        payload = b64url_json(claims_for(account))
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        await assert_refused(users, f"{header}.{payload}.{b64url(mac)}")


async def test_rs256_with_our_kid_is_refused(users, account, signing_key):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        claims_for(account), rsa_key, algorithm="RS256", headers={"kid": signing_key.kid}
    )
    await assert_refused(users, token)


@pytest.mark.parametrize(
    "changes",
    [{"aud": "someone-else"}, {"iss": "evil-issuer"}, {"typ": "refresh"}],
    ids=["audience", "issuer", "type"],
)
async def test_wrong_audience_issuer_or_type_is_refused(users, account, signing_key, changes):
    await assert_refused(users, sign(claims_for(account, **changes), signing_key))


async def test_garbage_and_missing_tokens_are_refused(users):
    await assert_refused(users, "not.a.jwt")
    await assert_refused(users, "garbage")
    response = await users.get("/api/v1/users/profile")
    assert response.status == 401
    response = await users.get("/api/v1/users/profile", headers={"Authorization": "Basic eDp5"})
    assert response.status == 401
