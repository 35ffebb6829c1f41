"""What the waiting room's handlers share: the pool, the keys, the room versions, the
join batcher and the visitor streams."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from evently.core.signing_keys import KeyRing
from evently.waiting_room.room_versions import RoomVersions
from evently.waiting_room.stream import VisitorStreams
from evently.waiting_room.visitors import JoinBatcher


@dataclass(frozen=True)
class WaitingRoomContext:
    pool: asyncpg.Pool
    keys: KeyRing
    versions: RoomVersions
    joins: JoinBatcher
    streams: VisitorStreams | None = None
    stream_heartbeat_s: float = 15.0


WAITING_ROOM: web.AppKey[WaitingRoomContext] = web.AppKey("waiting_room", WaitingRoomContext)
