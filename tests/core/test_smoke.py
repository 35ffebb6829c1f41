"""A service app starts against a real, migrated database and answers ops routes."""

from __future__ import annotations


async def test_service_answers_healthz_and_readyz(aiohttp_client, make_app):
    client = await aiohttp_client(make_app("events"))
    health = await client.get("/healthz")
    assert health.status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert (await ready.json())["checks"]["database_reachable"] == "ok"
