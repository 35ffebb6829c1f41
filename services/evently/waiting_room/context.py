"""What the waiting room's handlers share: the pool, the keys and the room versions."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from evently.core.signing_keys import KeyRing
from evently.waiting_room.room_versions import RoomVersions


@dataclass(frozen=True)
class WaitingRoomContext:
    pool: asyncpg.Pool
    keys: KeyRing
    versions: RoomVersions


WAITING_ROOM: web.AppKey[WaitingRoomContext] = web.AppKey("waiting_room", WaitingRoomContext)
