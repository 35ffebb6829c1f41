"""Fixtures for the users service: its real app on a fresh database, with test keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.users.helpers import keys_json, new_signing_key


@pytest.fixture
def signing_key():
    """The key the users app signs with (kid ``test-key-a``)."""
    return new_signing_key("test-key-a")


@pytest.fixture
def users_env(signing_key) -> dict[str, str]:
    """Environment of the users app: its signing key and a cheap bcrypt cost. The outbox
    relay is off (nothing consumes user.changed here; tests/users/test_outbox.py runs
    one itself)."""
    return {
        "JWT_SIGNING_KEYS": keys_json(signing_key),
        "BCRYPT_ROUNDS": "4",
        "OUTBOX_RELAY_ENABLED": "false",
    }


@pytest.fixture
def make_users_app(make_app, users_env) -> Callable[..., web.Application]:
    """Build another users app on this test's database: ``make_users_app(env={...})``."""

    def build(env: dict[str, str] | None = None, **overrides: Any) -> web.Application:
        return make_app("users", env={**users_env, **(env or {})}, **overrides)

    return build


@pytest.fixture
async def users(aiohttp_client, make_users_app) -> TestClient:
    """A client of the real users app."""
    return await aiohttp_client(make_users_app())
