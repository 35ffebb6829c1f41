"""A service schema's database code: numbered migrations, then repeatable SQL.

* **Numbered migrations** (``<service>/migrations/NNNN_description.sql``) hold tables,
  indexes, types and data changes. Each is applied once and is immutable afterwards: a
  run refuses an applied migration whose text changed.
* **Repeatable SQL** (``<service>/sql/*.sql``) holds functions (one file per operation,
  written as ``CREATE OR REPLACE``). After the numbered migrations, whenever any file's
  checksum differs from the ledger, the whole set is applied again in name order.

One run per service is one transaction under one global transaction-scoped advisory
lock, so replicas starting together apply each change exactly once and a failure
leaves nothing half-applied: neither a migration without its repeatable SQL, nor part
of the set. The ledger is ``<schema>.schema_migrations`` (versions and checksums) and
``<schema>.schema_sql`` (each repeatable file's live checksum). See docs/database.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from evently.core.locks import LockKey, advisory_xact_lock

log = logging.getLogger("evently.migrations")
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SQL_FILENAME = re.compile(r"^[a-z0-9_]+\.sql$")
MIGRATIONS_LOCK = LockKey.of("migrations", 0)


class MigrationError(Exception):
    """An applied migration no longer matches its file, or a file is misnamed."""


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


@dataclass(frozen=True)
class SqlFile:
    """One repeatable file: ``name`` is its file name, e.g. ``hold_seats.sql``."""

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


@dataclass
class Applied:
    """What one run changed in one schema."""

    migrations: list[Migration] = field(default_factory=list)
    sql_files: list[SqlFile] = field(default_factory=list)


def _folder(service: str, name: str) -> Traversable:
    return resources.files(f"evently.{service}").joinpath(name)


def discover(service: str, folder: Traversable | None = None) -> list[Migration]:
    """The migrations shipped with ``evently.<service>`` (or in ``folder``), in order."""
    folder = _folder(service, "migrations") if folder is None else folder
    found: list[Migration] = []
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILENAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{service}: bad migration file name {entry.name!r}")
        found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{service}: duplicate migration versions {versions}")
    return found


def discover_sql(service: str, folder: Traversable | None = None) -> list[SqlFile]:
    """The repeatable SQL files of ``evently.<service>`` (or in ``folder``), by name."""
    folder = _folder(service, "sql") if folder is None else folder
    found: list[SqlFile] = []
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        if _SQL_FILENAME.match(entry.name) is None:
            raise MigrationError(f"{service}: bad repeatable SQL file name {entry.name!r}")
        found.append(SqlFile(entry.name, entry.read_text()))
    found.sort(key=lambda f: f.name)
    return found


async def applied_versions(conn: asyncpg.Connection, schema: str) -> dict[int, str]:
    """Versions already applied to ``schema`` with their checksums (empty if none)."""
    exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.schema_migrations")
    if exists is None:
        return {}
    rows = await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def live_sql(conn: asyncpg.Connection, schema: str) -> dict[str, str]:
    """The repeatable files live in ``schema``, with their checksums (empty if none)."""
    exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.schema_sql")
    if exists is None:
        return {}
    rows = await conn.fetch(f"SELECT file, checksum FROM {schema}.schema_sql")
    return {r["file"]: r["checksum"] for r in rows}


async def pending(
    conn: asyncpg.Connection, service: str, schema: str, folder: Traversable | None = None
) -> list[Migration]:
    """Migrations not yet applied; raises if an applied one was edited since."""
    done = await applied_versions(conn, schema)
    todo = []
    for migration in discover(service, folder):
        checksum = done.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(
                f"{schema}: migration {migration.version:04d}_{migration.name} was edited "
                "after it was applied; add a new migration instead"
            )
    return todo


async def missing_sql(
    conn: asyncpg.Connection, service: str, schema: str, folder: Traversable | None = None
) -> list[SqlFile]:
    """Repeatable files this code ships that were never applied to ``schema``.

    A file applied with another checksum is not missing: during a rolling upgrade the
    release that migrated last defines the live version.
    """
    live = await live_sql(conn, schema)
    return [f for f in discover_sql(service, folder) if f.name not in live]


async def migrate(
    conn: asyncpg.Connection,
    service: str,
    schema: str,
    folder: Traversable | None = None,
    sql_folder: Traversable | None = None,
) -> Applied:
    """Apply pending migrations, then the repeatable SQL if it changed, in one transaction.

    ``folder`` defaults to the service's ``migrations`` and ``sql_folder`` to the ``sql``
    folder beside it.
    """
    if sql_folder is None:
        sql_folder = _folder(service, "sql") if folder is None else folder.parent / "sql"
    applied = Applied()
    async with conn.transaction():
        await advisory_xact_lock(conn, [MIGRATIONS_LOCK])
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_sql (
                    file text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for migration in await pending(conn, service, schema, folder):
            log.info("applying %s migration %04d_%s", schema, migration.version, migration.name)
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (version, name, checksum) "
                "VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied.migrations.append(migration)
        applied.sql_files = await _apply_sql(conn, service, schema, sql_folder)
    return applied


async def _apply_sql(
    conn: asyncpg.Connection, service: str, schema: str, folder: Traversable
) -> list[SqlFile]:
    """Re-apply every repeatable file if any changed, and record the set as live."""
    files = discover_sql(service, folder)
    wanted = {f.name: f.checksum for f in files}
    if await live_sql(conn, schema) == wanted:
        return []
    # Two passes: the first defines everything without checking bodies (a body may call a
    # function a later file defines), the second again with every body checked.
    for check_bodies in ("off", "on"):
        await conn.execute(f"SET LOCAL check_function_bodies = {check_bodies}")
        for sql_file in files:
            try:
                await conn.execute(sql_file.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{schema}: sql/{sql_file.name} failed: {exc}") from exc
    log.info("%s: applied repeatable SQL %s", schema, ", ".join(f.name for f in files))
    await conn.execute(f"DELETE FROM {schema}.schema_sql")
    await conn.execute(
        f"INSERT INTO {schema}.schema_sql (file, checksum) SELECT * FROM unnest($1::text[], "
        "$2::text[])",
        list(wanted),
        list(wanted.values()),
    )
    return files


async def migrate_dsn(dsn: str, services: list[tuple[str, str]]) -> dict[str, Applied]:
    """Connect once and migrate each ``(service, schema)``; returns what each applied."""
    conn = await asyncpg.connect(dsn)
    try:
        return {service: await migrate(conn, service, schema) for service, schema in services}
    finally:
        await conn.close()
