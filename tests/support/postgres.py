"""A real PostgreSQL for the suite: ``DATABASE_URL`` if set, else an embedded server.

Every test gets its own database cloned from a migrated template, so no test sees
another's rows and concurrency tests can open as many connections as they like.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from evently.core import migrations
from evently.core.embedded import start_embedded_postgres
from evently.services import all_services


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database on the same server."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@contextmanager
def postgres_server(tmp_root: Path) -> Iterator[str]:
    """Yield an admin DSN of a running server (external or embedded)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server, dsn = start_embedded_postgres(tmp_root / f"pg-{uuid.uuid4().hex[:8]}", keep_data=False)
    try:
        yield dsn
    finally:
        server.cleanup()  # type: ignore[attr-defined]


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class DatabaseFactory:
    """Creates isolated databases: empty ones, or clones of the migrated template."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"evt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []

    def build_template(self) -> None:
        asyncio.run(self._build_template())

    async def _build_template(self) -> None:
        await _admin(self.admin_dsn, f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        await migrations.migrate_dsn(
            with_database(self.admin_dsn, self.template),
            [(s.name, s.schema) for s in all_services()],
        )

    async def create(self, *, migrated: bool = True) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        await _admin(self.admin_dsn, f'CREATE DATABASE "{name}"{template}')
        self.created.append(name)
        return with_database(self.admin_dsn, name)

    async def drop(self, dsn: str) -> None:
        name = dsn.rsplit("/", 1)[1].split("?", 1)[0]
        await _admin(self.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        async def run() -> None:
            for name in list(self.created):
                await _admin(self.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.clear()

        asyncio.run(run())


# The last numbered migration of each service before repeatable SQL existed: databases
# migrated by that code hold exactly these (numbered migrations never change).
BEFORE_REPEATABLE_SQL = {
    "users": 1,
    "events": 1,
    "bookings": 2,
    "search": 1,
    "analytics": 1,
    "notifications": 0,  # it came later
    "waiting_room": 0,
}


async def migrate_as_before_repeatable_sql(dsn: str, root: Path) -> None:
    """Migrate ``dsn`` the way the code before repeatable SQL did: numbered files only."""
    conn = await asyncpg.connect(dsn)
    try:
        for service in all_services():
            folder = root / service.name / "migrations"
            folder.mkdir(parents=True)
            for migration in migrations.discover(service.name):
                if migration.version <= BEFORE_REPEATABLE_SQL[service.name]:
                    name = f"{migration.version:04d}_{migration.name}.sql"
                    (folder / name).write_text(migration.sql)
            (root / service.name / "sql").mkdir()
            await migrations.migrate(conn, service.name, service.schema, folder)
            # That code kept no ledger of repeatable SQL.
            await conn.execute(f"DROP TABLE {service.schema}.schema_sql")
    finally:
        await conn.close()
