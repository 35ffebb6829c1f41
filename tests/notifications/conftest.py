"""Fixtures for the notifications tests: the real app sending to a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from evently.core.auth import AUTHENTICATOR
from tests.support.prometheus import free_port
from tests.support.smtp import MailCatcher
from tests.support.tokens import TokenMinter


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, running."""
    catcher = MailCatcher(free_port())
    catcher.start()
    yield catcher
    catcher.stop()


def mail_env(port: int) -> dict[str, str]:
    """Settings pointing the notifications service at an SMTP server on ``port``."""
    return {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": "none",
        "MAIL_FROM": "Evently <tickets@evently.test>",
        "PUBLIC_BASE_URL": "https://tickets.evently.test",
        "MAIL_POLL_INTERVAL_S": "0.05",
        "MAIL_MAX_BACKOFF_S": "0.2",
        # Streams must be woken by their NOTIFY, not by re-reading at a heartbeat.
        "NOTIFICATIONS_STREAM_HEARTBEAT_S": "600",
    }


@pytest.fixture
def make_notifications_app(
    make_app: Callable[..., web.Application], tokens: TokenMinter
) -> Callable[..., web.Application]:
    """The real notifications app (verifying ``tokens``), mailing to SMTP on ``port``."""

    def build(port: int, **env: str) -> web.Application:
        app = make_app("notifications", env={**mail_env(port), **env})
        app[AUTHENTICATOR] = tokens.authenticator()
        return app

    return build


@pytest.fixture
async def notifications(aiohttp_client: Any, make_notifications_app, smtp: MailCatcher):
    """A client of the notifications app, mailing to ``smtp``."""
    return await aiohttp_client(make_notifications_app(smtp.port))
