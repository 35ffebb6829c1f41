"""The waiting room service definition and its background wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.db import POOL
from evently.core.inbox_loop import inbox_loop_context
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
    # Outbox deliveries (a sell-out, above all) on a loop of their own: the app's loop is
    # saturated by visitors in a flash sale (core/inbox_loop.py).
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
            joins=JoinBatcher(app[POOL]),
            streams=streams,
            stream_heartbeat_s=settings.stream_heartbeat_s,
        )
        try:
            yield
        finally:
            await streams.close()

    return ctx


def _tick_forever(settings: WaitingRoomSettings) -> Any:
    async def run(app: web.Application) -> None:
        ticker = Ticker(app[POOL], settings.session_idle_s)
        await every(settings.tick_interval_s, ticker.tick, "waiting-room-ticker")

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
