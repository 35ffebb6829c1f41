"""The notifications service definition: mail and per-user streams, fed by the outboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.db import POOL
from evently.core.tasks import background_task, every
from evently.notifications import hold_reminders, queries
from evently.notifications.context import NOTIFICATIONS, NotificationsContext
from evently.notifications.mailer import transport_for
from evently.notifications.routes import api
from evently.notifications.sender import MailSender
from evently.notifications.settings import NotificationsSettings
from evently.notifications.user_stream import UserStreamHub

NOTIFICATION_RETENTION_S = 86_400.0


def setup(app: web.Application, settings: NotificationsSettings) -> None:
    """The shared context, then the mail sender and the purge of old notifications."""
    app.cleanup_ctx.append(_context(settings))
    app.cleanup_ctx.append(
        background_task("notifications-mail-sender", lambda a: a[NOTIFICATIONS].sender.run())
    )
    app.cleanup_ctx.append(background_task("notifications-purge", _purge_forever))
    app.cleanup_ctx.append(
        background_task("notifications-hold-reminders", lambda a: _remind_forever(a, settings))
    )


def _context(settings: NotificationsSettings) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = app[POOL]
        streams = UserStreamHub(settings.database_url, settings.stream_max_subscribers)
        app[NOTIFICATIONS] = NotificationsContext(
            pool=pool,
            settings=settings,
            sender=MailSender(pool, transport_for(settings), settings),
            streams=streams,
        )
        try:
            yield
        finally:
            await streams.close()

    return ctx


async def _purge_forever(app: web.Application) -> None:
    pool = app[POOL]

    async def purge() -> None:
        await pool.execute(queries.PURGE_OLD_NOTIFICATIONS, NOTIFICATION_RETENTION_S)

    await every(3600.0, purge, "notifications-purge")


async def _remind_forever(app: web.Application, settings: NotificationsSettings) -> None:
    pool = app[POOL]

    async def remind() -> None:
        await hold_reminders.send_due_reminders_now(pool, settings.hold_reminder_batch_size)

    await every(settings.hold_reminder_interval_s, remind, "hold-reminders")


SERVICE = ServiceDefinition(
    name="notifications",
    schema="notifications",
    settings_class=NotificationsSettings,
    api=api,
    description="Mail (booking confirmed, holds about to expire, waitlist offers, event "
    "changes, account mail) "
    "through SMTP and each user's notification stream, fed by the outboxes. "
    "See docs/notifications.md.",
    setup=setup,
    # `make run` needs no mail server: each mail is printed (MAIL_TRANSPORT=directory
    # and MAIL_DIRECTORY=<folder> write .eml files instead).
    dev_settings={"MAIL_TRANSPORT": "console"},
)
