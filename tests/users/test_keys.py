"""Signing keys: the published JWKS, configuration errors, and rotation."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from evently.core.auth import Authenticator, JwksCache, http_jwks
from evently.core.settings import SettingsError, load_settings
from evently.users.keys import generate_signing_keys_json, load_keyring, private_key_pem
from evently.users.settings import UsersSettings
from evently.users.tokens import access_claims, sign
from tests.users.helpers import (
    bearer,
    decode_segment,
    keys_json,
    login,
    new_signing_key,
    register,
)

BASE_ENV = {
    "DATABASE_URL": "postgresql://localhost/x",
    "INTERNAL_API_KEY": "k" * 16,
}


def settings_with(**env: str) -> UsersSettings:
    return load_settings(UsersSettings, {**BASE_ENV, **env})


async def test_jwks_publishes_public_keys_only(users, signing_key):
    response = await users.get("/.well-known/jwks.json")
    assert response.status == 200
    jwks = await response.json()
    assert jwks == {"keys": [signing_key.public_jwk()]}
    (key,) = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["kid"]) == (
        "OKP", "Ed25519", "EdDSA", "test-key-a",
    )  # fmt: skip
    assert "d" not in key


async def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid(
    aiohttp_client, make_users_app, signing_key
):
    before = await aiohttp_client(make_users_app())
    old_session = await register(before, "rotating@example.com")
    assert decode_segment(old_session["access_token"].split(".")[0])["kid"] == "test-key-a"

    new_key = new_signing_key("test-key-b")
    rotated_env = {
        "JWT_SIGNING_KEYS": keys_json(signing_key, new_key),
        "JWT_ACTIVE_KID": "test-key-b",
    }
    after = await aiohttp_client(make_users_app(env=rotated_env))

    jwks = await (await after.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == ["test-key-b", "test-key-a"]
    old_token_still_works = await after.get(
        "/api/v1/users/profile", headers=bearer(old_session["access_token"])
    )
    assert old_token_still_works.status == 200
    new_session = await (await login(after, "rotating@example.com")).json()
    assert decode_segment(new_session["access_token"].split(".")[0])["kid"] == "test-key-b"
    # The refresh token from before the rotation keeps working: it is not a JWT.
    refreshed = await after.post(
        "/api/v1/auth/refresh", json={"refresh_token": old_session["refresh_token"]}
    )
    assert refreshed.status == 200


async def test_another_service_picks_up_a_new_kid_from_the_published_jwks(
    aiohttp_server, aiohttp_client, make_users_app, signing_key
):
    """A verifier in another service, with the old key cached, sees a token with the new
    kid, refetches the JWKS over HTTP and accepts it; the old token keeps verifying."""
    new_key = new_signing_key("test-key-b")
    server = await aiohttp_server(
        make_users_app(
            env={
                "JWT_SIGNING_KEYS": keys_json(signing_key, new_key),
                "JWT_ACTIVE_KID": signing_key.kid,  # step 1: publish the new key, sign with old
            }
        )
    )
    client = await aiohttp_client(server)
    session = await register(client, "remote@example.com")
    url = str(server.make_url("/.well-known/jwks.json"))
    async with aiohttp.ClientSession() as http:
        # min_refetch_s=0: in production the new kid shows up long after the last fetch.
        verifier = Authenticator(JwksCache(http_jwks(lambda: http, url), min_refetch_s=0))
        old_claims = await verifier.verify(session["access_token"])
        assert old_claims["sub"] == str(session["user"]["id"])
        # Step 2 of a rotation: the users service signs with the new key.
        new_token = sign(access_claims(session["user"], 900), new_key)
        assert (await verifier.verify(new_token))["sub"] == str(session["user"]["id"])
        assert (await verifier.verify(session["access_token"]))["sub"] == old_claims["sub"]


async def test_a_retired_key_no_longer_verifies(aiohttp_client, make_users_app, signing_key):
    before = await aiohttp_client(make_users_app())
    old_session = await register(before, "retired@example.com")
    new_key = new_signing_key("test-key-b")
    after = await aiohttp_client(make_users_app(env={"JWT_SIGNING_KEYS": keys_json(new_key)}))
    response = await after.get("/api/v1/users/profile", headers=bearer(old_session["access_token"]))
    assert response.status == 401
    assert (await response.json())["code"] == "invalid_token"


async def test_an_old_key_token_still_expires(aiohttp_client, make_users_app, signing_key):
    new_key = new_signing_key("test-key-b")
    app = make_users_app(
        env={"JWT_SIGNING_KEYS": keys_json(signing_key, new_key), "JWT_ACTIVE_KID": "test-key-b"}
    )
    client = await aiohttp_client(app)
    session = await register(client, "expiring@example.com")
    expired = sign(access_claims(session["user"], 900, now=int(time.time()) - 1000), signing_key)
    response = await client.get("/api/v1/users/profile", headers=bearer(expired))
    assert response.status == 401
    assert (await response.json())["code"] == "token_expired"


def test_keys_load_from_a_mounted_secret_directory(tmp_path, signing_key):
    (tmp_path / f"{signing_key.kid}.pem").write_text(private_key_pem(signing_key.private_key))
    (tmp_path / "..data").mkdir()  # what a Kubernetes Secret volume also contains
    (tmp_path / "README").write_text("not a key")
    keyring = load_keyring(settings_with(JWT_SIGNING_KEYS_DIR=str(tmp_path)))
    assert keyring.active.kid == signing_key.kid
    assert [k.kid for k in keyring.keys] == [signing_key.kid]


def test_the_dev_secret_generator_makes_a_usable_key():
    keyring = load_keyring(settings_with(JWT_SIGNING_KEYS=generate_signing_keys_json()))
    assert len(keyring.keys) == 1
    assert keyring.jwks()["keys"][0]["kid"] == keyring.active.kid


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWT_SIGNING_KEYS": "{not json"}, "JWT_SIGNING_KEYS is not valid JSON"),
        ({"JWT_SIGNING_KEYS": '["a"]'}, "must be a JSON object"),
        ({"JWT_SIGNING_KEYS": "{}"}, "holds no signing key"),
        ({"JWT_SIGNING_KEYS": '{"k1": "garbage"}'}, "is not an unencrypted PEM key"),
        ({"JWT_SIGNING_KEYS_DIR": "/nonexistent/keys"}, "is not a directory"),
    ],
)
def test_unusable_keys_fail_at_start_naming_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_keyring(settings_with(**env))


def test_an_rsa_key_is_refused():
    with pytest.raises(SettingsError, match="is not an Ed25519 private key"):
        load_keyring(settings_with(JWT_SIGNING_KEYS=json.dumps({"k1": _rsa_pem()})))


def test_a_bad_kid_is_refused():
    pem = private_key_pem(new_signing_key("x").private_key)
    with pytest.raises(SettingsError, match="key id"):
        load_keyring(settings_with(JWT_SIGNING_KEYS=json.dumps({"bad kid/..": pem})))


def test_several_keys_need_an_explicit_active_kid():
    a, b = new_signing_key("2025-01-01-a"), new_signing_key("2025-06-01-b")
    with pytest.raises(SettingsError, match="JWT_ACTIVE_KID is required"):
        load_keyring(settings_with(JWT_SIGNING_KEYS=keys_json(a, b)))
    with pytest.raises(SettingsError, match="JWT_ACTIVE_KID='nope' is not one of"):
        load_keyring(settings_with(JWT_SIGNING_KEYS=keys_json(a, b), JWT_ACTIVE_KID="nope"))
    keyring = load_keyring(
        settings_with(JWT_SIGNING_KEYS=keys_json(a, b), JWT_ACTIVE_KID="2025-01-01-a")
    )
    assert keyring.active.kid == "2025-01-01-a"


def test_exactly_one_key_source_is_required():
    with pytest.raises(SettingsError, match="exactly one of JWT_SIGNING_KEYS"):
        load_keyring(settings_with())
    with pytest.raises(SettingsError, match="exactly one of JWT_SIGNING_KEYS"):
        load_keyring(settings_with(JWT_SIGNING_KEYS="{}", JWT_SIGNING_KEYS_DIR="/tmp"))


def test_the_users_app_will_not_build_without_keys(make_app):
    with pytest.raises(SettingsError, match="exactly one of JWT_SIGNING_KEYS"):
        make_app("users", env={"JWT_SIGNING_KEYS": ""})
