"""Where mail goes: an SMTP server (aiosmtplib), the console, or a folder of .eml files.

A transport sends a batch in order and says what became of each message; it raises only
when it could send none (the server is unreachable), which the sender treats as "retry
them all later". ``is_permanent`` tells a refusal worth retrying (4xx, a dropped
connection, a refused sender: fixable configuration) from one that is final (the server
refused the recipient or the content with a 5xx).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import aiosmtplib

from evently.notifications.settings import NotificationsSettings
from evently.notifications.templates import RenderedMail

# What became of one message: None (accepted) or why not.
Outcome = BaseException | None


class MailTransport(Protocol):
    async def send(self, messages: Sequence[EmailMessage]) -> list[Outcome]: ...


def build_message(sender: str, to: str, message_id: str, rendered: RenderedMail) -> EmailMessage:
    """A multipart/alternative mail: the text, then the HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id
    message["Date"] = formatdate(usegmt=True)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def is_permanent(outcome: BaseException) -> bool:
    """A refusal no retry can change: the recipient or the content refused with 5xx."""
    if isinstance(outcome, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in outcome.recipients)
    if isinstance(outcome, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return outcome.code >= 500
    return False


class SmtpTransport:
    """One SMTP connection per batch (STARTTLS, implicit TLS or plain; optional login)."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            timeout=s.smtp_timeout_s,
        )

    async def send(self, messages: Sequence[EmailMessage]) -> list[Outcome]:
        client = self._client()
        await client.connect()  # unreachable: raises, nothing was sent
        outcomes: list[Outcome] = []
        try:
            for message in messages:
                try:
                    await client.send_message(message)
                except (aiosmtplib.SMTPServerDisconnected, OSError, TimeoutError) as exc:
                    # The connection is gone: this message and the rest wait for a retry.
                    outcomes += [exc] * (len(messages) - len(outcomes))
                    break
                except aiosmtplib.SMTPException as exc:
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
        finally:
            with contextlib.suppress(Exception):
                await client.quit()
            client.close()
        return outcomes


class ConsoleTransport:
    """Prints each mail's headers and text (``make run``), decoded so that links can be
    copied: nothing to install, nothing leaves the machine."""

    async def send(self, messages: Sequence[EmailMessage]) -> list[Outcome]:
        for message in messages:
            print(console_text(message), flush=True)
        return [None] * len(messages)


def console_text(message: EmailMessage) -> str:
    """A mail as ``ConsoleTransport`` prints it: the main headers, then the text part."""
    headers = "\n".join(
        f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Message-ID")
    )
    text = message.get_body(preferencelist=("plain",))
    body = text.get_content() if text is not None else ""
    return f"----- mail -----\n{headers}\n\n{body.rstrip()}\n----- end of mail -----"


class DirectoryTransport:
    """Writes each mail to ``<folder>/<Message-ID>.eml`` (open it in any mail reader)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    async def send(self, messages: Sequence[EmailMessage]) -> list[Outcome]:
        await asyncio.to_thread(self._write, messages)
        return [None] * len(messages)

    def _write(self, messages: Sequence[EmailMessage]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(message["Message-ID"]).strip("<>"))
            (self.folder / f"{name}.eml").write_bytes(message.as_bytes())


def transport_for(settings: NotificationsSettings) -> MailTransport:
    """The transport ``MAIL_TRANSPORT`` names."""
    if settings.mail_transport == "console":
        return ConsoleTransport()
    if settings.mail_transport == "directory":
        return DirectoryTransport(settings.mail_directory or ".evently/mail")
    return SmtpTransport(settings)
