"""Fixtures for the analytics tests: the real app with test-signed tokens, and an inbox poster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from evently.core.auth import AUTHENTICATOR
from tests.conftest import INTERNAL_API_KEY
from tests.support.prometheus import run_prometheus
from tests.support.tokens import TokenMinter


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def make_analytics_app(
    make_app: Callable[..., web.Application], tokens: TokenMinter
) -> Callable[..., web.Application]:
    """The real analytics app, verifying tokens minted by ``tokens``."""

    def build(**env: str) -> web.Application:
        app = make_app("analytics", env=env)
        app[AUTHENTICATOR] = tokens.authenticator()
        return app

    return build


@pytest.fixture
async def analytics(aiohttp_client: Any, make_analytics_app: Callable[..., web.Application]):
    """A client of the analytics app (no Prometheus configured)."""
    return await aiohttp_client(make_analytics_app())


async def deliver(client: TestClient, messages: list[dict[str, Any]]) -> list[int]:
    """POST messages to /internal/inbox as the relay does; returns the acknowledged ids."""
    acknowledged: list[int] = []
    by_source: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        by_source.setdefault(m["source"], []).append(m)
    for source, batch in by_source.items():
        response = await client.post(
            "/internal/inbox",
            json={"source": source, "messages": batch},
            headers={"X-Internal-Key": INTERNAL_API_KEY},
        )
        assert response.status == 200, await response.text()
        acknowledged += (await response.json())["acknowledged"]
    return acknowledged


@pytest.fixture
def prometheus(tmp_path):
    """A real Prometheus on 127.0.0.1, scraping nothing until ``await prometheus.scrape(...)``."""
    with run_prometheus(tmp_path / "prometheus") as server:
        yield server
