"""What the notifications app shares between its handlers and background tasks."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from evently.notifications.sender import MailSender
from evently.notifications.settings import NotificationsSettings
from evently.notifications.user_stream import UserStreamHub


@dataclass(frozen=True)
class NotificationsContext:
    pool: asyncpg.Pool
    settings: NotificationsSettings
    sender: MailSender
    streams: UserStreamHub


NOTIFICATIONS: web.AppKey[NotificationsContext] = web.AppKey("notifications", NotificationsContext)
