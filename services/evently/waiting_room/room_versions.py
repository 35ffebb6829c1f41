"""Each room's ``state_version`` and snapshot as this process last heard them, in memory.

A visitor's status changes only when their room's ``state_version`` does (the ticker and
the inbox bump it, in the same transaction as the change, and ``notify_room`` tells every
replica at commit, with the figures of ``status_tags.RoomSnapshot``). So a status poll
whose ``If-None-Match`` is still current for the snapshot held here (``status_tags``) is
answered 304 without touching the database. One LISTEN connection per process keeps the
snapshots current; a full reload every ``refresh_s`` (and on every reconnect) covers
notifications missed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

import asyncpg

from evently.core.tasks import reconnect_forever, wait_at_most
from evently.waiting_room import queries
from evently.waiting_room.metrics import CHANGE_HEARD
from evently.waiting_room.status_tags import RoomSnapshot

log = logging.getLogger("evently.waiting_room.versions")
CHANNEL = "waiting_room"
LISTENER_NAME = "evently-waiting-room-versions"


class RoomVersions:
    """event id -> the newest snapshot (and ``state_version``) this process knows."""

    def __init__(self, dsn: str, refresh_s: float) -> None:
        self.dsn = dsn
        self.refresh_s = refresh_s
        self._rooms: dict[int, RoomSnapshot] = {}
        self.listening = asyncio.Event()
        # Called with (event id, version) whenever a room's version moves (the streams).
        self.on_change: list[Callable[[int, int], None]] = []

    def current(self, event_id: int) -> int | None:
        room = self._rooms.get(event_id)
        return room.state_version if room is not None else None

    def snapshot(self, event_id: int) -> RoomSnapshot | None:
        return self._rooms.get(event_id)

    def saw(self, event_id: int, room: RoomSnapshot) -> None:
        """Record ``room`` unless a newer version is known already."""
        known = self._rooms.get(event_id)
        if known is None or room.state_version > known.state_version:
            self._rooms[event_id] = room
            for callback in self.on_change:
                callback(event_id, room.state_version)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            state = json.loads(payload)
            event_id = int(state["event_id"])
            room = RoomSnapshot.from_row(state)
            known = self._rooms.get(event_id)
            if "at" in state:
                sold = room.sold_out and not (known is None or known.sold_out)
                CHANGE_HEARD.labels("sold_out" if sold else "other").observe(
                    max(0.0, time.time() - float(state["at"]))
                )
            self.saw(event_id, room)
        except (ValueError, KeyError, TypeError, AttributeError):
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
                for row in await conn.fetch(queries.ROOM_SNAPSHOTS):
                    self.saw(row["event_id"], RoomSnapshot.from_row(row))
                if await wait_at_most(lost, self.refresh_s):
                    return
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
