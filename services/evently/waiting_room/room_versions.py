"""Each room's ``state_version`` as this process last heard it, kept in memory.

A visitor's status changes only when their room's ``state_version`` does (the ticker and
the inbox bump it, in the same transaction as the change, and ``notify_room`` tells every
replica at commit). So a status poll whose ``If-None-Match`` names the version held here
is answered 304 without touching the database. One LISTEN connection per process keeps
the versions current; a full reload every ``refresh_s`` (and on every reconnect) covers
notifications missed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import asyncpg

from evently.core.tasks import reconnect_forever, wait_at_most
from evently.waiting_room import queries

log = logging.getLogger("evently.waiting_room.versions")
CHANNEL = "waiting_room"
LISTENER_NAME = "evently-waiting-room-versions"


class RoomVersions:
    """event id -> the newest ``state_version`` this process knows."""

    def __init__(self, dsn: str, refresh_s: float) -> None:
        self.dsn = dsn
        self.refresh_s = refresh_s
        self._versions: dict[int, int] = {}
        self.listening = asyncio.Event()
        # Called with (event id, version) whenever a room's version moves (the streams).
        self.on_change: list[Callable[[int, int], None]] = []

    def current(self, event_id: int) -> int | None:
        return self._versions.get(event_id)

    def saw(self, event_id: int, version: int) -> None:
        """Record ``version`` for a room unless a newer one is known already."""
        if version > self._versions.get(event_id, 0):
            self._versions[event_id] = version
            for callback in self.on_change:
                callback(event_id, version)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            state = json.loads(payload)
            self.saw(int(state["event_id"]), int(state["state_version"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed waiting room notification %r", payload[:200])

    async def run(self) -> None:
        """Listen and reload until cancelled, reconnecting after failures."""
        await reconnect_forever(self._listen_once, "waiting room LISTEN", self.listening.clear)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": LISTENER_NAME})
        try:
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            while not conn.is_closed():
                for row in await conn.fetch(queries.ROOM_VERSIONS):
                    self.saw(row["event_id"], row["state_version"])
                if await wait_at_most(lost, self.refresh_s):
                    return
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
