""" "Hold about to expire" mail, optional per event: recorded from booking.changed 'held'
for an event with hold_expiry_reminder_s, sent by the worker through the mail queue to a
real SMTP server (aiosmtpd). The tests drive the worker's clock instead of sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from evently.core.db import POOL
from evently.notifications.hold_reminders import send_due_reminders
from evently.notifications.mail_queue import when
from tests.analytics.conftest import deliver
from tests.notifications.messages import booking_changed, event_changed, user_changed
from tests.notifications.test_mail import ANN, BOB, all_sent, mail_rows
from tests.support.smtp import MailCatcher, body_text

# booking_changed holds for 10 minutes from now: a 2-minute lead is due in 8.
LEAD_S = 120


def after(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def reminders(client) -> list:
    return await client.app[POOL].fetch(
        "SELECT booking_id, status FROM notifications.hold_reminders ORDER BY booking_id"
    )


async def setup_event(client, reminder_s: int | None = LEAD_S) -> None:
    await deliver(
        client,
        [user_changed(7, ANN, name="Ann"), user_changed(8, BOB, name="Bob")],
    )
    await deliver(client, [event_changed(3, name="Night & Day", hold_expiry_reminder_s=reminder_s)])


async def test_a_held_booking_is_reminded_before_its_hold_expires_in_text_and_html(
    notifications, smtp: MailCatcher, database_url
):
    await setup_event(notifications)
    held = booking_changed(41, 7, 3, "held")
    await deliver(notifications, [held])
    pool = notifications.app[POOL]
    assert await send_due_reminders(pool, after(7), 100) == 0  # not due yet
    assert await send_due_reminders(pool, after(8.5), 100) == 1
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == ANN
    assert mail["Subject"] == "Your hold ends soon: Night & Day"
    text = body_text(mail)
    assert "Hello Ann" in text and "booking 41" in text and "2 seat(s)" in text
    expires_at = datetime.fromisoformat(held["payload"]["booking"]["hold_expires_at"])
    assert f"until {when(expires_at)}" in text
    assert "https://tickets.evently.test/api/v1/bookings/41" in text
    html = body_text(mail, "html")
    assert "Night &amp; Day" in html and "before " in html
    assert [tuple(r) for r in await reminders(notifications)] == [(41, "sent")]
    assert await send_due_reminders(pool, after(9), 100) == 0  # at most once
    (row,) = await all_sent(database_url, 1)
    assert (row["kind"], row["dedup_key"]) == ("hold_expiring", "hold_expiring:41")


async def test_a_booking_confirmed_before_the_reminder_is_due_gets_none(
    notifications, smtp: MailCatcher, database_url
):
    await setup_event(notifications)
    await deliver(
        notifications,
        [booking_changed(41, 7, 3, "held"), booking_changed(41, 7, 3, "confirmed", version=2)],
    )
    assert await send_due_reminders(notifications.app[POOL], after(9), 100) == 0
    assert [tuple(r) for r in await reminders(notifications)] == [(41, "skipped")]
    (mail,) = await smtp.wait_for(1)  # only the confirmation
    assert mail["Subject"] == "Your tickets for Night & Day"
    assert [r["kind"] for r in await mail_rows(database_url)] == ["booking_confirmed"]


async def test_a_booking_that_left_held_unheard_until_due_is_skipped_by_the_worker(
    notifications, smtp: MailCatcher, database_url
):
    await setup_event(notifications)
    await deliver(notifications, [booking_changed(41, 7, 3, "held")])
    pool = notifications.app[POOL]
    # The hold expired before the reminder was due (the worker's clock is past it).
    assert await send_due_reminders(pool, after(11), 100) == 1
    assert [tuple(r) for r in await reminders(notifications)] == [(41, "skipped")]
    assert await mail_rows(database_url) == []


async def test_no_reminder_when_the_event_has_it_off_or_the_hold_is_shorter_than_the_lead(
    notifications, database_url
):
    await setup_event(notifications, reminder_s=None)
    await deliver(notifications, [event_changed(4, hold_expiry_reminder_s=900)])  # 15 min
    await deliver(
        notifications, [booking_changed(41, 7, 3, "held"), booking_changed(42, 7, 4, "held")]
    )
    assert await send_due_reminders(notifications.app[POOL], after(30), 100) == 0
    assert await reminders(notifications) == []
    assert await mail_rows(database_url) == []


async def test_two_replicas_send_a_due_reminder_once(
    aiohttp_client, make_notifications_app, smtp: MailCatcher, database_url
):
    first = await aiohttp_client(make_notifications_app(smtp.port))
    second = await aiohttp_client(make_notifications_app(smtp.port))
    await setup_event(first)
    await deliver(first, [booking_changed(41, 7, 3, "held")])
    await deliver(second, [booking_changed(41, 7, 3, "held")])  # a redelivery, elsewhere
    now = after(9)
    handled = await asyncio.gather(
        *(send_due_reminders(c.app[POOL], now, 100) for c in (first, second, first, second))
    )
    assert sum(handled) == 1
    # A later mail: once it has arrived, a duplicate reminder would have arrived before it.
    await deliver(second, [booking_changed(50, 8, 3, "confirmed")])
    mails = await smtp.wait_for(2)
    assert sorted(m["To"] for m in mails) == [ANN, BOB]
    rows = await all_sent(database_url, 2)
    assert [r["kind"] for r in rows].count("hold_expiring") == 1
