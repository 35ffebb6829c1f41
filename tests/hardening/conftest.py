"""Fixtures for the hardening tests: real service apps, real tokens, raw requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from evently.core.auth import AUTHENTICATOR
from tests.support.tokens import ADMIN_PERMISSIONS, TokenMinter
from tests.users.helpers import keys_json, new_signing_key

ServiceClient = Callable[..., Any]


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def admin_headers(tokens: TokenMinter) -> dict[str, str]:
    token = tokens.token(1, roles=("admin",), perms=ADMIN_PERMISSIONS)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def customer_headers(tokens: TokenMinter) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(7)}"}


@pytest.fixture
def service_client(aiohttp_client, make_app, tokens) -> ServiceClient:
    """``await service_client("events", KEY=value)``: a real service app (relays off) that
    trusts ``tokens``; the users app signs with its own key."""

    async def build(service: str, **env: str) -> TestClient:
        env = {"OUTBOX_RELAY_ENABLED": "false", **env}
        if service == "users":
            env = {"JWT_SIGNING_KEYS": keys_json(new_signing_key("test-key-a")), **env}
        app: web.Application = make_app(service, env)
        if service != "users":
            app[AUTHENTICATOR] = tokens.authenticator()
        return await aiohttp_client(app)

    return build
