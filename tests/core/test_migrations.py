"""Migrations: versioned, recorded, idempotent and safe with concurrent runners."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from evently.core import migrations
from evently.services import all_services
from tests.support.postgres import migrate_as_before_repeatable_sql


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
        assert [m.version for m in applied.migrations] == [1, 2]
        rows = await conn.fetch("SELECT version, name FROM probe.schema_migrations ORDER BY 1")
        assert [(r["version"], r["name"]) for r in rows] == [(1, "tables"), (2, "seed")]
        assert await conn.fetchval("SELECT name FROM probe.things WHERE id = 1") == "one"
    finally:
        await conn.close()


async def test_rerunning_applies_nothing(blank_database, migration_dir):
    conn = await asyncpg.connect(blank_database)
    try:
        await migrations.migrate(conn, "probe", "probe", migration_dir)
        again = await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert again.migrations == [] and again.sql_files == []
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
        assert sorted(len(r.migrations) for r in results) == [0, 0, 2]
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
    assert {(len(a.migrations), len(a.sql_files)) for a in again.values()} == {(0, 0)}


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
    for service in (
        "users",
        "events",
        "bookings",
        "search",
        "analytics",
        "notifications",
        "waiting_room",
    ):
        assert f"{service}: applied" in result.stdout


# --- repeatable SQL -------------------------------------------------------------------


def answer_function(value: int) -> str:
    return (
        "CREATE OR REPLACE FUNCTION probe.answer() RETURNS integer "
        f"LANGUAGE sql IMMUTABLE AS $$ SELECT {value} $$;"
    )


@pytest.fixture
def sql_dir(migration_dir: Path) -> Path:
    folder = migration_dir.parent / "sql"
    folder.mkdir()
    (folder / "answer.sql").write_text(answer_function(1))
    # Calls a function a later file defines: the set applies in any order.
    (folder / "a_double.sql").write_text(
        "CREATE OR REPLACE FUNCTION probe.double_answer() RETURNS integer "
        "LANGUAGE sql AS $$ SELECT probe.answer() * 2 $$;"
    )
    return folder


async def test_changing_a_function_file_and_migrating_again_changes_the_behaviour(
    blank_database, migration_dir, sql_dir
):
    conn = await asyncpg.connect(blank_database)
    try:
        first = await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert [f.name for f in first.sql_files] == ["a_double.sql", "answer.sql"]
        assert await conn.fetchval("SELECT probe.double_answer()") == 2
        unchanged = await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert unchanged.sql_files == []

        (sql_dir / "answer.sql").write_text(answer_function(21))
        second = await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert second.migrations == [] and len(second.sql_files) == 2
        assert await conn.fetchval("SELECT probe.double_answer()") == 42
        live = await migrations.live_sql(conn, "probe")
        assert live == {f.name: f.checksum for f in migrations.discover_sql("probe", sql_dir)}
    finally:
        await conn.close()


async def test_a_failing_file_leaves_nothing_half_applied(blank_database, migration_dir, sql_dir):
    conn = await asyncpg.connect(blank_database)
    try:
        await migrations.migrate(conn, "probe", "probe", migration_dir)
        ledger_before = await migrations.live_sql(conn, "probe")
        # A new migration, a changed function and a broken file, in one run.
        (migration_dir / "0003_more.sql").write_text("INSERT INTO probe.things VALUES (3, 'x');")
        (sql_dir / "answer.sql").write_text(answer_function(7))
        (sql_dir / "broken.sql").write_text(
            "CREATE OR REPLACE FUNCTION probe.broken() RETURNS integer "
            "LANGUAGE sql AS $$ SELECT no_such_column FROM probe.things $$;"
        )
        with pytest.raises(migrations.MigrationError, match=r"sql/broken\.sql failed"):
            await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert await conn.fetchval("SELECT probe.answer()") == 1
        assert await conn.fetchval("SELECT to_regproc('probe.broken')") is None
        assert await conn.fetchval("SELECT count(*) FROM probe.things") == 1
        assert 3 not in await migrations.applied_versions(conn, "probe")
        assert await migrations.live_sql(conn, "probe") == ledger_before
    finally:
        await conn.close()


async def test_a_syntax_error_in_a_plpgsql_body_is_refused(blank_database, migration_dir, sql_dir):
    (sql_dir / "bad_plpgsql.sql").write_text(
        "CREATE OR REPLACE FUNCTION probe.bad() RETURNS integer LANGUAGE plpgsql AS $$ "
        "BEGIN RETURN 1 END $$;"
    )
    conn = await asyncpg.connect(blank_database)
    try:
        with pytest.raises(migrations.MigrationError, match=r"bad_plpgsql\.sql"):
            await migrations.migrate(conn, "probe", "probe", migration_dir)
        assert await migrations.applied_versions(conn, "probe") == {}
    finally:
        await conn.close()


def test_misnamed_sql_file_is_refused(tmp_path: Path):
    (tmp_path / "Hold Seats.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="bad repeatable SQL file name"):
        migrations.discover_sql("probe", tmp_path)


async def test_a_database_migrated_before_repeatable_sql_upgrades_cleanly(blank_database, tmp_path):
    await migrate_as_before_repeatable_sql(blank_database, tmp_path)
    targets = [(s.name, s.schema) for s in all_services()]
    upgraded = await migrations.migrate_dsn(blank_database, targets)
    assert upgraded["bookings"].sql_files, "bookings' functions must be redefined from sql/"
    conn = await asyncpg.connect(blank_database)
    try:
        for service in all_services():
            assert await migrations.pending(conn, service.name, service.schema) == []
            live = await migrations.live_sql(conn, service.schema)
            shipped = migrations.discover_sql(service.name)
            assert live == {f.name: f.checksum for f in shipped}, service.name
    finally:
        await conn.close()


# Functions that must stay in numbered migrations because generated columns or indexes
# depend on them (docs/database.md names each one).
MIGRATION_ONLY_FUNCTIONS = {"search.fold", "search.start_keys", "search.price_keys"}
_DEFINES = re.compile(r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\.(\w+)\s*\(", re.IGNORECASE)


async def test_every_live_function_is_defined_by_its_services_sql_files(database_url, repo_root):
    conn = await asyncpg.connect(database_url)
    try:
        for service in all_services():
            defined: Counter[str] = Counter()
            for sql_file in migrations.discover_sql(service.name):
                for schema, name in _DEFINES.findall(sql_file.sql):
                    assert schema == service.schema, f"{sql_file.name} defines {schema}.{name}"
                    defined[f"{schema}.{name}"] += 1
            rows = await conn.fetch(
                """SELECT n.nspname || '.' || p.proname AS name FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = $1 AND NOT EXISTS (
                       SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""",
                service.schema,
            )
            live = Counter(r["name"] for r in rows) - Counter(MIGRATION_ONLY_FUNCTIONS)
            assert live == defined, f"{service.name}: live functions differ from sql/"
    finally:
        await conn.close()
    docs = (repo_root / "docs" / "database.md").read_text()
    for name in MIGRATION_ONLY_FUNCTIONS:
        assert f"`{name}`" in docs


def test_every_function_a_numbered_migration_defines_is_redefined_in_sql():
    for service in all_services():
        redefined = {
            f"{schema}.{name}"
            for f in migrations.discover_sql(service.name)
            for schema, name in _DEFINES.findall(f.sql)
        }
        texts = [m.sql for m in migrations.discover(service.name)]
        created = {
            n
            for t in texts
            for n in re.findall(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+\.\w+)", t, re.I)
        }
        dropped = {
            n
            for t in texts
            for n in re.findall(r"DROP\s+FUNCTION\s+(?:IF\s+EXISTS\s+)?(\w+\.\w+)", t, re.I)
        }
        unexplained = created - redefined - dropped - MIGRATION_ONLY_FUNCTIONS
        assert not unexplained, f"{service.name}: define {unexplained} in sql/ (docs/database.md)"
