"""Liveness and readiness: database reachable and migrations applied."""

from __future__ import annotations

import uuid

import asyncpg

from evently.core.app import create_app
from evently.core.embedded import start_embedded_postgres
from evently.core.settings import load_settings
from tests.support.postgres import with_database


async def test_healthz_and_readyz_pass_on_a_migrated_database(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert body["checks"] == {"database_reachable": "ok", "migrations_applied": "ok"}


async def test_readyz_fails_while_migrations_are_pending(
    aiohttp_client, databases, service_env, probe_definition
):
    dsn = await databases.create(migrated=False)
    try:
        settings = load_settings(
            probe_definition.settings_class, {**service_env, "DATABASE_URL": dsn}
        )
        client = await aiohttp_client(create_app(probe_definition, settings))
        response = await client.get("/readyz")
        if probe_definition_has_migrations(probe_definition):
            assert response.status == 503
            assert "pending migrations" in (await response.json())["checks"]["migrations_applied"]
        assert (await client.get("/healthz")).status == 200
    finally:
        await databases.drop(dsn)


def probe_definition_has_migrations(definition) -> bool:
    from evently.core.migrations import discover

    return bool(discover(definition.name))


async def test_readyz_fails_when_the_database_goes_down_and_healthz_stays_up(
    aiohttp_client, tmp_path, service_env, probe_definition
):
    server, admin_dsn = start_embedded_postgres(tmp_path / f"pg-{uuid.uuid4().hex[:6]}")
    try:
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute("CREATE DATABASE readiness")
        await conn.close()
        dsn = with_database(admin_dsn, "readiness")
        from evently.core import migrations

        await migrations.migrate_dsn(dsn, [(probe_definition.name, probe_definition.schema)])
        settings = load_settings(
            probe_definition.settings_class, {**service_env, "DATABASE_URL": dsn}
        )
        client = await aiohttp_client(create_app(probe_definition, settings))
        assert (await client.get("/readyz")).status == 200
        server.cleanup()  # stops the server
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database_reachable"].startswith("database unreachable")
        assert (await client.get("/healthz")).status == 200
    finally:
        server.cleanup()


async def test_readyz_fails_while_a_shipped_sql_file_was_never_applied(
    aiohttp_client, make_app, database_url
):
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM bookings.schema_sql WHERE file = 'hold_seats.sql'")
    finally:
        await conn.close()
    client = await aiohttp_client(make_app("bookings", env={"OUTBOX_RELAY_ENABLED": "false"}))
    response = await client.get("/readyz")
    assert response.status == 503
    check = (await response.json())["checks"]["migrations_applied"]
    assert check == "repeatable SQL never applied: hold_seats.sql"
