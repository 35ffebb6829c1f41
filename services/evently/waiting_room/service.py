"""The waiting room service definition and its background wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.db import POOL
from evently.core.inbox_loop import INBOX_LOOP, inbox_loop_context
from evently.core.signing_keys import generate_signing_keys_json
from evently.core.tasks import background_task, every
from evently.waiting_room.admission_keys import ADMISSION_KEYS, load_admission_keys
from evently.waiting_room.context import WAITING_ROOM, WaitingRoomContext
from evently.waiting_room.room_versions import RoomVersions
from evently.waiting_room.routes import api
from evently.waiting_room.settings import WaitingRoomSettings
from evently.waiting_room.stream import VisitorStreams
from evently.waiting_room.ticker import Ticker
from evently.waiting_room.visitors import JoinBatcher


def setup(app: web.Application, settings: Any) -> None:
    """Admission keys (failing fast if unusable), the inbox's own event loop, the shared
    context, the room versions' listener and, where enabled, the admission ticker."""
    app[ADMISSION_KEYS] = load_admission_keys(settings)
    # Outbox deliveries (a sell-out, above all) and the ticker on a loop of their own: the
    # app's loop is saturated by visitors in a flash sale (core/inbox_loop.py).
    app.cleanup_ctx.append(inbox_loop_context(settings, "evently-waiting_room"))
    app.cleanup_ctx.append(_context(settings))
    app.cleanup_ctx.append(
        background_task("waiting-room-versions", lambda a: a[WAITING_ROOM].versions.run())
    )
    if settings.ticker_enabled:
        app.cleanup_ctx.append(background_task("waiting-room-ticker", _tick_forever(settings)))


def _context(settings: WaitingRoomSettings) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        versions = RoomVersions(settings.database_url, settings.state_refresh_s)
        streams = VisitorStreams(
            app[POOL], app[ADMISSION_KEYS], settings.stream_max_subscribers, versions.snapshot
        )
        versions.on_change.append(streams.room_changed)
        app[WAITING_ROOM] = WaitingRoomContext(
            pool=app[POOL],
            keys=app[ADMISSION_KEYS],
            versions=versions,
            joins=JoinBatcher(app[POOL], snapshot=versions.snapshot),
            streams=streams,
            stream_heartbeat_s=settings.stream_heartbeat_s,
        )
        try:
            yield
        finally:
            await streams.close()

    return ctx


def _tick_forever(settings: WaitingRoomSettings) -> Any:
    """The ticker, on the inbox's own loop when there is one: a tick's transaction locks
    what the inbox's next one needs (tickets, the room's row) until it commits, so it
    must not wait, round trip after round trip, for a turn of a loop saturated by
    visitors either."""

    async def tick_forever(pool: asyncpg.Pool) -> None:
        ticker = Ticker(pool, settings.session_idle_s)
        await every(settings.tick_interval_s, ticker.tick, "waiting-room-ticker")

    async def run(app: web.Application) -> None:
        own_loop = app.get(INBOX_LOOP)
        await (own_loop.run(tick_forever) if own_loop else tick_forever(app[POOL]))

    return run


SERVICE = ServiceDefinition(
    name="waiting_room",
    schema="waiting_room",
    settings_class=WaitingRoomSettings,
    api=api,
    description="A virtual waiting room per event: a shuffled pre-queue, then first come, "
    "first served; admission at a set rate with signed, expiring admission tokens.",
    setup=setup,
    dev_secrets={"ADMISSION_SIGNING_KEYS": generate_signing_keys_json},
)
