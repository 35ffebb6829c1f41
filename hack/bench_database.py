"""A throwaway, fully migrated embedded PostgreSQL for the database-only benchmarks."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


@asynccontextmanager
async def migrated_postgres(prefix: str) -> AsyncIterator[str]:
    """Start an embedded PostgreSQL in a temporary directory named ``prefix``…, migrate
    every service's schema, yield its DSN; stop it and remove the directory afterwards."""
    from evently.core import migrations
    from evently.core.embedded import start_embedded_postgres
    from evently.services import all_services

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    server = None
    try:
        server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
        await migrations.migrate_dsn(dsn, [(s.name, s.schema) for s in all_services()])
        yield dsn
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)
