"""Small helpers the users tests share: keys, accounts and sessions in one line."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evently.core.auth import INTERNAL_KEY_HEADER
from evently.users.keys import SigningKey, private_key_pem
from tests.conftest import INTERNAL_API_KEY

PASSWORD = "correct-Horse-battery"
INTERNAL = {INTERNAL_KEY_HEADER: INTERNAL_API_KEY}


def new_signing_key(kid: str) -> SigningKey:
    return SigningKey(kid, Ed25519PrivateKey.generate())


def keys_json(*keys: SigningKey) -> str:
    """A ``JWT_SIGNING_KEYS`` value holding ``keys``."""
    return json.dumps({key.kid: private_key_pem(key.private_key) for key in keys})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def decode_segment(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


async def register(
    client: TestClient, email: str, password: str = PASSWORD, **fields: Any
) -> dict[str, Any]:
    """Register a customer; returns the session body (asserting 201)."""
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, **fields}
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def login(
    client: TestClient, email: str, password: str = PASSWORD, *, admin: bool = False, **kw: Any
) -> Any:
    """POST a login; returns the raw response."""
    path = "/api/v1/auth/admin/login" if admin else "/api/v1/auth/login"
    return await client.post(path, json={"email": email, "password": password}, **kw)


async def admin_session(client: TestClient, email: str = "root@example.com") -> dict[str, Any]:
    """Create an admin directly in the database and log in as it."""
    from evently.core.db import POOL
    from evently.users.accounts import ensure_admin

    async with client.app[POOL].acquire() as conn:
        await ensure_admin(conn, 4, email, PASSWORD)
    response = await login(client, email, admin=True)
    assert response.status == 200, await response.text()
    return await response.json()
