"""Migrations: versioned, recorded, idempotent and safe with concurrent runners."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from evently.core import migrations
from evently.services import all_services


@pytest.fixture
async def blank_database(databases):
    dsn = await databases.create(migrated=False)
    yield dsn
    await databases.drop(dsn)


@pytest.fixture
def migration_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_tables.sql").write_text(
        "CREATE TABLE probe.things (id int PRIMARY KEY, name text NOT NULL);"
    )
    (folder / "0002_seed.sql").write_text(
        "INSERT INTO probe.things VALUES (1, 'one'); SELECT pg_sleep(0.2);"
    )
    return folder


async def test_applies_in_order_and_records_each_version(blank_database, migration_dir):
    conn = await asyncpg.connect(blank_database)
    try:
        applied = await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert [m.version for m in applied] == [1, 2]
        rows = await conn.fetch("SELECT version, name FROM probe.schema_migrations ORDER BY 1")
        assert [(r["version"], r["name"]) for r in rows] == [(1, "tables"), (2, "seed")]
        assert await conn.fetchval("SELECT name FROM probe.things WHERE id = 1") == "one"
    finally:
        await conn.close()


async def test_rerunning_applies_nothing(blank_database, migration_dir):
    conn = await asyncpg.connect(blank_database)
    try:
        await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert await migrations.migrate(conn, "probe", "probe", migration_dir) == []
        assert await conn.fetchval("SELECT count(*) FROM probe.things") == 1
    finally:
        await conn.close()


async def test_two_runners_starting_together_apply_each_migration_once(
    blank_database, migration_dir
):
    conns = [await asyncpg.connect(blank_database) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(migrations.migrate(c, "probe", "probe", migration_dir) for c in conns)
        )
        assert sorted(len(r) for r in results) == [0, 0, 2]
        assert await conns[0].fetchval("SELECT count(*) FROM probe.schema_migrations") == 2
        assert await conns[0].fetchval("SELECT count(*) FROM probe.things") == 1
    finally:
        for conn in conns:
            await conn.close()


async def test_an_edited_applied_migration_is_refused(blank_database, migration_dir):
    conn = await asyncpg.connect(blank_database)
    try:
        await migrations.migrate(conn, "probe", "probe", migration_dir)
        (migration_dir / "0001_tables.sql").write_text("CREATE TABLE probe.other (id int);")
        with pytest.raises(migrations.MigrationError, match="edited after it was applied"):
            await migrations.migrate(conn, "probe", "probe", migration_dir)
    finally:
        await conn.close()


def test_misnamed_migration_file_is_refused(tmp_path: Path):
    (tmp_path / "1_bad.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="bad migration file name"):
        migrations.discover("probe", tmp_path)


async def test_every_service_migrates_cleanly_and_idempotently(blank_database):
    targets = [(s.name, s.schema) for s in all_services()]
    await migrations.migrate_dsn(blank_database, targets)
    again = await migrations.migrate_dsn(blank_database, targets)
    assert set(again.values()) == {0}


def test_migrate_command_reports_what_it_applied(blank_database):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "evently", "migrate"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": blank_database},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for service in ("users", "events", "bookings", "search", "analytics"):
        assert f"{service}: applied" in result.stdout
