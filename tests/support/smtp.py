"""A real SMTP server in-process (aiosmtpd) that keeps every mail it accepts.

``MailCatcher`` runs aiosmtpd's ``Controller`` (its own thread and event loop) on
127.0.0.1; ``messages`` holds each accepted mail parsed as an ``EmailMessage``.
Addresses in ``refuse`` are refused at RCPT with 550, as a real server refuses an
unknown mailbox. ``start``/``stop`` can be called again on the same port, which is how a
test takes the mail server down and brings it back.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address in self.catcher.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.catcher.messages.append(parsed)  # type: ignore[arg-type]
        self.catcher.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class MailCatcher:
    """A real SMTP server on ``127.0.0.1:port`` recording what it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, count: int, attempts: int = 400) -> list[EmailMessage]:
        """Wait (bounded) until at least ``count`` mails arrived; returns them all."""
        for _ in range(attempts):
            if len(self.messages) >= count:
                return list(self.messages)
            await asyncio.sleep(0.025)
        raise AssertionError(f"expected {count} mail(s), {len(self.messages)} arrived")


def body_text(message: EmailMessage, subtype: str = "plain") -> str:
    """The text (``plain``) or HTML (``html``) part of a multipart/alternative mail."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()
