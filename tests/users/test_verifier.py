"""How other services verify users' tokens over HTTP (core.auth's JWKS cache)."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from evently.core.auth import Authenticator, JwksCache, http_jwks
from evently.core.errors import ServiceUnavailable
from tests.users.helpers import register


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/.well-known/jwks.json"


async def test_an_unreachable_users_service_is_a_503_not_a_bad_token_and_is_not_hammered(
    aiohttp_server, aiohttp_client, make_users_app
):
    server = await aiohttp_server(make_users_app())
    session = await register(await aiohttp_client(server), "v@example.com")
    urls = [closed_port_url()]
    fetches = 0
    async with aiohttp.ClientSession() as http:

        async def fetch() -> dict:
            nonlocal fetches
            fetches += 1
            return await http_jwks(lambda: http, urls[-1])()

        cache = JwksCache(fetch, min_refetch_s=3600)
        verifier = Authenticator(cache)
        for _ in range(3):
            with pytest.raises(ServiceUnavailable) as failure:
                await verifier.verify(session["access_token"])
            assert failure.value.code == "jwks_unavailable"
        assert fetches == 1  # failed fetches are throttled too

        # The users service comes back; after the throttle interval the keys load.
        urls.append(str(server.make_url("/.well-known/jwks.json")))
        cache._min_refetch_s = 0
        claims = await verifier.verify(session["access_token"])
        assert claims["email"] == "v@example.com"
        assert fetches == 2
