"""Versioned SQL migrations, one directory per service schema.

Files are ``<service>/migrations/NNNN_description.sql``. A run takes one global
transaction-scoped advisory lock, so replicas starting together apply each file
exactly once; applied versions are recorded in ``<schema>.schema_migrations`` with a
checksum, and a run with nothing pending changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from evently.core.locks import LockKey, advisory_xact_lock

log = logging.getLogger("evently.migrations")
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
MIGRATIONS_LOCK = LockKey.of("migrations", 0)


class MigrationError(Exception):
    """An applied migration no longer matches its file, or a file is misnamed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(service: str, folder: Traversable | None = None) -> list[Migration]:
    """The migrations shipped with ``evently.<service>`` (or in ``folder``), in order."""
    if folder is None:
        folder = resources.files(f"evently.{service}").joinpath("migrations")
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


async def applied_versions(conn: asyncpg.Connection, schema: str) -> dict[int, str]:
    """Versions already applied to ``schema`` with their checksums (empty if none)."""
    exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.schema_migrations")
    if exists is None:
        return {}
    rows = await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


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


async def migrate(
    conn: asyncpg.Connection, service: str, schema: str, folder: Traversable | None = None
) -> list[Migration]:
    """Apply pending migrations for one service in one transaction; returns those applied."""
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
        todo = await pending(conn, service, schema, folder)
        for migration in todo:
            log.info("applying %s migration %04d_%s", schema, migration.version, migration.name)
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (version, name, checksum) "
                "VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    return todo


async def migrate_dsn(dsn: str, services: list[tuple[str, str]]) -> dict[str, int]:
    """Connect once and migrate each ``(service, schema)``; returns how many each applied."""
    conn = await asyncpg.connect(dsn)
    try:
        return {service: len(await migrate(conn, service, schema)) for service, schema in services}
    finally:
        await conn.close()
