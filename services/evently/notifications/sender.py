"""The mail sender: sends due mails from the queue, and retries until the server takes them.

Every replica runs one. A round locks up to ``MAIL_BATCH_SIZE`` due mails
(``FOR UPDATE SKIP LOCKED``: replicas never send the same mail), addresses them from the
recipients copy, renders them, hands them to the transport over one connection and
records each outcome in the same transaction:

* accepted: ``sent`` (the row stays as the ledger; what the mail said is dropped);
* refused for good (5xx for the recipient or the content): ``rejected``, with the reason;
* anything else (the server is down, a 4xx, a dropped connection): retried after an
  exponential backoff (0.5 s, 1 s, 2 s … ``MAIL_MAX_BACKOFF_S``), forever: an outage
  delays mail, it never loses it and never touches a booking;
* no address yet (``user.changed`` has not arrived): waits the same way.

A crash after the server accepted a mail and before the commit sends it again, with
the same Message-ID, which mail systems use to drop the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage

import asyncpg

from evently.core.outbox import backoff_seconds
from evently.notifications import queries
from evently.notifications.mailer import MailTransport, build_message, is_permanent
from evently.notifications.metrics import MAIL_QUEUE_OLDEST, MAIL_QUEUE_PENDING, MAILS
from evently.notifications.settings import NotificationsSettings
from evently.notifications.templates import render_mail

log = logging.getLogger("evently.notifications.sender")


class MailSender:
    def __init__(
        self, pool: asyncpg.Pool, transport: MailTransport, settings: NotificationsSettings
    ) -> None:
        self.pool = pool
        self.transport = transport
        self.settings = settings

    async def run(self) -> None:
        """Forever: send what is due; when nothing is, wait a poll interval."""
        while True:
            try:
                handled = await self.send_due()
                await self.observe()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail round failed; retrying")
                handled = 0
            if not handled:
                await asyncio.sleep(self.settings.mail_poll_interval_s)

    async def send_due(self) -> int:
        """One round; returns how many due mails it handled (sent, rejected or postponed)."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.CLAIM_DUE_MAILS, self.settings.mail_batch_size)
            ready: list[tuple[asyncpg.Record, EmailMessage]] = []
            for row in rows:
                if row["address"] is None:
                    await self._postpone(conn, row, "the recipient's address is not known yet")
                    MAILS.labels(row["kind"], "waiting_for_address").inc()
                    continue
                ready.append((row, self._message(row)))
            if ready:
                await self._send(conn, ready)
        return len(rows)

    def _message(self, row: asyncpg.Record) -> EmailMessage:
        values = {
            "recipient_name": row["recipient_name"] or "there",
            **row["context"],  # account mail names its recipient itself
            "base_url": self.settings.public_base_url.rstrip("/"),
        }
        rendered = render_mail(row["kind"], values)
        return build_message(self.settings.mail_from, row["address"], row["message_id"], rendered)

    async def _send(
        self, conn: asyncpg.Connection, ready: list[tuple[asyncpg.Record, EmailMessage]]
    ) -> None:
        try:
            outcomes = await self.transport.send([message for _, message in ready])
        except Exception as exc:  # the server is unreachable: every mail waits
            log.warning("mail server unavailable (%s); %d mail(s) wait", exc, len(ready))
            outcomes = [exc] * len(ready)
        sent = []
        for (row, _), outcome in zip(ready, outcomes, strict=True):
            if outcome is None:
                sent.append(row["id"])
                MAILS.labels(row["kind"], "sent").inc()
            elif is_permanent(outcome):
                log.error("mail %s (%s) refused for good: %s", row["id"], row["kind"], outcome)
                await conn.execute(queries.MARK_REJECTED, row["id"], str(outcome)[:500])
                MAILS.labels(row["kind"], "rejected").inc()
            else:
                await self._postpone(conn, row, f"{type(outcome).__name__}: {outcome}")
                MAILS.labels(row["kind"], "retry").inc()
        if sent:
            await conn.execute(queries.MARK_SENT, sent)

    async def _postpone(self, conn: asyncpg.Connection, row: asyncpg.Record, why: str) -> None:
        delay = backoff_seconds(row["attempts"] + 1, cap_s=self.settings.mail_max_backoff_s)
        await conn.execute(queries.POSTPONE, row["id"], why[:500], delay)

    async def observe(self) -> None:
        row = await self.pool.fetchrow(queries.PENDING_MAILS)
        MAIL_QUEUE_PENDING.set(row["pending"])
        MAIL_QUEUE_OLDEST.set(float(row["oldest_s"]))
