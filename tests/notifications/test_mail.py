"""Mail from consumed outbox messages, sent to a real SMTP server (aiosmtpd, in-process).

Each test posts contract-shaped messages to the real ``POST /internal/inbox`` as the
relays do, and asserts the mails that arrive. "Exactly once" is checked against a later
mail: the sender works through the queue in order, so once a later mail has arrived, an
earlier duplicate would have arrived before it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from evently.core.db import init_connection
from tests.analytics.conftest import deliver
from tests.analytics.contract import message
from tests.notifications.messages import (
    booking_changed,
    event_changed,
    refund_changed,
    user_changed,
    waitlist_offered,
)
from tests.support.outbox_peers import wait_until
from tests.support.prometheus import free_port
from tests.support.smtp import MailCatcher, body_text

ANN = "ann@example.com"
BOB = "bob@example.com"


async def mail_rows(database_url: str, kind: str | None = None) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        return await conn.fetch(
            "SELECT * FROM notifications.mails WHERE $1::text IS NULL OR kind = $1 ORDER BY id",
            kind,
        )
    finally:
        await conn.close()


async def all_sent(database_url: str, count: int) -> list[asyncpg.Record]:
    """The mail rows once ``count`` of them are recorded sent (the ledger commits just
    after the server accepted the mails)."""

    async def recorded() -> bool:
        rows = await mail_rows(database_url)
        return sum(r["status"] == "sent" for r in rows) >= count

    await wait_until(recorded)
    return await mail_rows(database_url)


async def test_a_confirmed_booking_mails_a_link_to_the_tickets_in_text_and_html(
    notifications, smtp: MailCatcher
):
    await deliver(
        notifications,
        [
            user_changed(7, ANN, name="Ann Lee"),
            event_changed(3, name="Night & Day"),
            booking_changed(41, 7, 3, "held"),
            booking_changed(41, 7, 3, "confirmed", version=2),
        ],
    )
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == ANN
    assert mail["From"] == "Evently <tickets@evently.test>"
    assert mail["Subject"] == "Your tickets for Night & Day"
    assert mail["Message-ID"].endswith("@evently>")
    link = "https://tickets.evently.test/api/v1/bookings/41/tickets"
    text = body_text(mail)
    assert "Hello Ann Lee" in text and link in text and "99.80 EUR" in text
    assert "Mon 02 Jun 2031" not in text and "Sun 01 Jun 2031, 19:00 UTC" in text
    html = body_text(mail, "html")
    assert f'<a href="{link}">' in html and "Night &amp; Day" in html
    assert smtp.envelopes == [("tickets@evently.test", [ANN])]


async def test_a_redelivered_or_repeated_confirmation_mails_once(
    notifications, smtp: MailCatcher, database_url: str
):
    confirmed = booking_changed(41, 7, 3, "confirmed", version=2)
    again = {**confirmed, "id": confirmed["id"] + 10_000}  # the same change, another copy
    await deliver(notifications, [user_changed(7, ANN), confirmed])
    await deliver(notifications, [confirmed, again])  # a redelivery, then a copy
    await deliver(notifications, [booking_changed(42, 7, 3, "confirmed", version=2)])
    mails = await smtp.wait_for(2)
    assert [m["Subject"] for m in mails] == ["Your tickets for event 3"] * 2
    assert ["41/tickets" in body_text(m) for m in mails] == [True, False]
    rows = await all_sent(database_url, 2)
    assert [(r["status"], r["context"]) for r in rows] == [("sent", {}), ("sent", {})]


async def test_smtp_down_then_up_the_mail_arrives_once(
    aiohttp_client, make_notifications_app, database_url: str
):
    server = MailCatcher(free_port())
    client = await aiohttp_client(make_notifications_app(server.port))  # nothing listens yet
    acknowledged = await deliver(
        client, [user_changed(7, ANN), booking_changed(41, 7, 3, "confirmed", version=2)]
    )
    assert len(acknowledged) == 2  # applying the message never waits for the mail server

    async def retried_twice() -> bool:
        rows = await mail_rows(database_url)
        return bool(rows) and rows[0]["attempts"] >= 2

    await wait_until(retried_twice)
    (waiting,) = await mail_rows(database_url)
    assert waiting["status"] == "pending" and waiting["sent_at"] is None
    assert "Connect" in waiting["last_error"] or "refused" in waiting["last_error"].lower()

    server.start()
    try:
        (sent,) = await all_sent(database_url, 1)  # once sent, a mail is never sent again
        (mail,) = server.messages
        assert "41/tickets" in body_text(mail) and mail["Message-ID"] == waiting["message_id"]
        assert sent["attempts"] > waiting["attempts"]
    finally:
        server.stop()


async def test_a_waitlist_offer_mail_states_its_deadline(notifications, smtp: MailCatcher):
    deadline = datetime(2031, 5, 1, 18, 30, tzinfo=UTC)
    await deliver(
        notifications,
        [
            user_changed(8, BOB),
            event_changed(3, name="Encore"),
            waitlist_offered(5, 8, 3, booking_id=77, expires_at=deadline),
        ],
    )
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == BOB and mail["Subject"] == "Seats are waiting for you: Encore"
    assert "before Thu 01 May 2031, 18:30 UTC" in body_text(mail)
    assert "https://tickets.evently.test/api/v1/bookings/77" in body_text(mail)
    assert "<strong>before Thu 01 May 2031, 18:30 UTC</strong>" in body_text(mail, "html")


async def test_a_refund_mails_its_customer_once_issued_or_failed_not_while_pending(
    notifications, smtp: MailCatcher, database_url: str
):
    created = refund_changed(1, 8, 3, 77, "created", 1)
    await deliver(
        notifications,
        [
            user_changed(8, BOB),
            user_changed(9, ANN),
            event_changed(3, name="Encore"),
            created,
            refund_changed(1, 8, 3, 77, "succeeded", 2),
            refund_changed(1, 8, 3, 77, "succeeded", 2),  # a redelivery under a new id
            refund_changed(2, 9, 3, 78, "created", 1, reason="booking_cancelled"),
            refund_changed(2, 9, 3, 78, "failed", 2, reason="booking_cancelled"),
        ],
    )
    issued, failed = await smtp.wait_for(2)
    assert (issued["To"], issued["Subject"]) == (BOB, "Your refund for Encore")
    assert "the organiser cancelled the event of booking 77" in body_text(issued)
    assert "we have refunded 99.80 EUR" in body_text(issued)
    assert "<strong>99.80 EUR</strong>" in body_text(issued, "html")
    assert (failed["To"], failed["Subject"]) == (
        ANN,
        "We could not refund your booking for Encore",
    )
    assert "you cancelled booking 78" in body_text(failed)
    # Nothing for "created", one mail per refund despite the redelivery.
    rows = await all_sent(database_url, 2)
    assert [r["kind"] for r in rows] == ["refund_issued", "refund_failed"]


async def test_an_event_moved_or_cancelled_mails_its_ticket_holders_only(
    notifications, smtp: MailCatcher
):
    moved_start = "2031-06-02T20:00:00+00:00"
    await deliver(
        notifications,
        [
            user_changed(7, ANN),
            user_changed(8, BOB),
            event_changed(3, name="Gala"),
            booking_changed(41, 7, 3, "confirmed", version=2),  # Ann holds tickets
            booking_changed(42, 8, 3, "held"),  # Bob only holds seats
        ],
    )
    await smtp.wait_for(1)
    renamed = event_changed(3, version=2, name="Gala (renamed)")  # not worth a mail
    moved = event_changed(3, version=3, name="Gala", starts_at=moved_start)
    stale = {**event_changed(3, version=2, name="Gala"), "id": moved["id"] + 1}
    cancelled = event_changed(3, version=4, name="Gala", status="cancelled")
    cancelled_again = event_changed(3, version=5, name="Gala", status="cancelled")
    await deliver(notifications, [renamed, moved, stale, cancelled, cancelled_again])
    mails = await smtp.wait_for(3)
    assert [(m["To"], m["Subject"]) for m in mails[1:]] == [
        (ANN, "Gala has changed"),
        (ANN, "Cancelled: Gala"),
    ]
    changed = body_text(mails[1])
    assert "it was Sun 01 Jun 2031, 19:00 UTC, it is now Mon 02 Jun 2031, 20:00 UTC" in changed
    await deliver(notifications, [booking_changed(43, 8, 3, "confirmed", version=2)])
    await smtp.wait_for(4)
    assert smtp.messages[3]["To"] == BOB and len(smtp.to(ANN)) == 3


async def test_mail_waits_for_the_recipients_address(
    notifications, smtp: MailCatcher, database_url: str
):
    await deliver(notifications, [booking_changed(41, 7, 3, "confirmed", version=2)])

    async def waiting() -> bool:
        rows = await mail_rows(database_url)
        return bool(rows) and "not known yet" in (rows[0]["last_error"] or "")

    await wait_until(waiting)
    assert smtp.messages == []
    await deliver(notifications, [user_changed(7, ANN, name="Ann")])
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == ANN


async def test_a_newer_address_wins_and_an_older_one_is_ignored(notifications, smtp: MailCatcher):
    await deliver(
        notifications,
        [
            user_changed(7, "new@example.com", version=3),
            user_changed(7, "old@example.com", version=2),
            booking_changed(41, 7, 3, "confirmed", version=2),
        ],
    )
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == "new@example.com"


async def test_a_refused_recipient_is_rejected_for_good_not_retried(
    notifications, smtp: MailCatcher, database_url: str
):
    smtp.refuse.add(ANN)
    await deliver(
        notifications,
        [user_changed(7, ANN), booking_changed(41, 7, 3, "confirmed", version=2)],
    )

    async def rejected() -> bool:
        rows = await mail_rows(database_url)
        return bool(rows) and rows[0]["status"] == "rejected"

    await wait_until(rejected)
    await deliver(
        notifications, [user_changed(8, BOB), booking_changed(42, 8, 3, "confirmed", version=2)]
    )
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == BOB
    first = (await mail_rows(database_url))[0]
    assert first["attempts"] == 1 and "550" in first["last_error"]


async def test_the_directory_transport_writes_each_mail_as_an_eml_file(
    aiohttp_client, make_notifications_app, tmp_path, database_url: str
):
    folder = tmp_path / "mail"
    client = await aiohttp_client(
        make_notifications_app(1, MAIL_TRANSPORT="directory", MAIL_DIRECTORY=str(folder))
    )
    await deliver(client, [user_changed(7, ANN), booking_changed(41, 7, 3, "confirmed", version=2)])

    async def sent() -> bool:
        rows = await mail_rows(database_url)
        return bool(rows) and rows[0]["status"] == "sent"

    await wait_until(sent)
    (written,) = folder.glob("*.eml")
    text = written.read_text()
    assert f"To: {ANN}" in text and "/api/v1/bookings/41/tickets" in text


async def test_the_console_transport_prints_each_mail_readably(
    aiohttp_client, make_notifications_app, database_url: str, capsys
):
    client = await aiohttp_client(make_notifications_app(1, MAIL_TRANSPORT="console"))
    token = "Q" * 43  # as long as a real one: its link line is longer than 78 characters
    requested = {
        "kind": "password_reset",
        "request_id": 1,
        "user_id": 7,
        "email": ANN,
        "name": "Ann",
        "token": token,
        "expires_at": "2031-05-01T18:30:00+00:00",
    }
    await deliver(client, [message("users", "account.mail_requested", 7, 1, requested)])
    await all_sent(database_url, 1)
    printed = capsys.readouterr().out
    assert "----- mail -----\nFrom: Evently <tickets@evently.test>\nTo: ann@example.com" in printed
    assert "Subject: Reset your Evently password" in printed
    # Decoded text, so the link can be copied whole (no quoted-printable =3D, soft breaks).
    assert f"https://tickets.evently.test/reset-password?token={token}\n" in printed
    assert "=3D" not in printed


def test_every_mail_kind_has_a_text_and_an_html_template():
    from evently.notifications.templates import TEMPLATES, kinds

    assert set(kinds()) >= {
        "booking_confirmed",
        "waitlist_offer",
        "event_changed",
        "event_cancelled",
        "password_reset",
        "email_verification",
    }
    for kind in kinds():
        assert (TEMPLATES / f"{kind}.html").exists()
