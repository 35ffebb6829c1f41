"""An embedded PostgreSQL of a test's own that the test can crash and start again.

The suite's shared server must never go down; outage and chaos tests get this one. The
crash is ``pg_ctl stop -m immediate``: no checkpoint, recovery from the WAL on the next
start, exactly what a killed server goes through. The server keeps its Unix socket
directory across restarts, so the DSN stays valid.
"""

from __future__ import annotations

import time
from pathlib import Path

from evently.core.embedded import start_embedded_postgres


class RestartablePostgres:
    """One embedded server in ``data_dir``: ``dsn``, ``crash()``, ``start()``, ``close()``."""

    def __init__(self, data_dir: Path) -> None:
        self.server, self.dsn = start_embedded_postgres(data_dir, keep_data=False)

    def crash(self) -> None:
        """Stop the server at once, as a crash would (clients see their connections die)."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> float:
        """Start it again (WAL recovery included); returns the seconds it took."""
        started = time.monotonic()
        self.server.ensure_postgres_running()
        uri = self.server.get_uri()
        assert uri == self.dsn, f"the DSN changed across a restart: {uri} != {self.dsn}"
        return time.monotonic() - started

    def close(self) -> None:
        self.server.cleanup()
