"""What each consumed outbox message does here (``POST /internal/inbox``, ``core.inbox``).

* ``user.changed`` keeps the recipient's address (notifications never reads users' tables);
* ``booking.changed`` keeps who holds tickets for which event, queues the confirmation
  mail, records or drops the hold's expiry reminder (``hold_reminders``), and tells the
  user's stream;
* ``waitlist.changed`` queues the offer mail (with its deadline) and tells the stream;
* ``event.changed`` keeps the event's name, time and venue; when a published event's time
  or venue changes, or it is cancelled, it mails every ticket holder and tells their
  streams;
* ``refund.changed`` tells the user's stream of every transition, and mails the customer
  when the refund is issued or has finally failed;
* ``account.mail_requested`` queues a password reset or email verification mail to the
  address its token was issued for.

Everything happens in the transaction that records the message in the inbox, so a
redelivered message changes nothing, and mail is only queued (``mail_queue``): no
handler ever waits for a mail server.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from evently.core.contracts import (
    AccountMailRequested,
    BookingChanged,
    EventChanged,
    RefundChanged,
    UserChanged,
    WaitlistChanged,
    parse,
)
from evently.core.inbox import InboxHandler, InboxMessage
from evently.notifications import hold_reminders, queries
from evently.notifications.mail_queue import queue_mail, when
from evently.notifications.user_stream import record_notification


async def apply_user_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the account's address, name and verification (an older version changes nothing)."""
    user = parse(UserChanged, message.payload)
    await conn.fetchval(
        queries.UPSERT_RECIPIENT,
        user.id,
        user.version,
        user.email,
        user.email_verified,
        user.name,
        user.active,
    )


async def _event_context(conn: asyncpg.Connection, event_id: int) -> dict[str, str]:
    """What a mail says about an event, from this service's copy (placeholders if the
    event's message has not arrived yet)."""
    event = await conn.fetchrow(queries.EVENT_BY_ID, event_id)
    if event is None:
        return {"event_name": f"event {event_id}", "event_starts_at": "(see the event page)"}
    return {
        "event_name": event["name"],
        "event_starts_at": when(event["starts_at"]),
        "venue": f"{event['venue_name']}, {event['venue_city']}",
    }


async def apply_booking_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    change = parse(BookingChanged, message.payload)
    booking = change.booking
    await conn.fetchval(
        queries.UPSERT_BOOKING,
        booking.id,
        booking.version,
        booking.event_id,
        booking.user_id,
        booking.status,
    )
    await hold_reminders.note_booking_changed(conn, change)
    if change.transition == "confirmed":
        context = {
            "booking_id": str(booking.id),
            "quantity": str(booking.quantity),
            "amount": str(booking.amount),
            "currency": booking.currency,
            "venue": "the venue",
            **await _event_context(conn, booking.event_id),
        }
        await queue_mail(
            conn,
            "booking_confirmed",
            f"booking_confirmed:{booking.id}",
            context,
            user_id=booking.user_id,
        )
    await record_notification(
        conn, booking.user_id, "booking.changed", change.model_dump(mode="json")
    )


async def apply_waitlist_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    change = parse(WaitlistChanged, message.payload)
    entry = change.entry
    if change.transition == "offered" and entry.offer_expires_at and entry.booking_id:
        context = {
            "booking_id": str(entry.booking_id),
            "quantity": str(entry.quantity),
            "offer_expires_at": when(entry.offer_expires_at),
            **await _event_context(conn, entry.event_id),
        }
        await queue_mail(
            conn,
            "waitlist_offer",
            f"waitlist_offer:{entry.id}:{entry.version}",
            context,
            user_id=entry.user_id,
        )
    await record_notification(
        conn, entry.user_id, "waitlist.changed", change.model_dump(mode="json")
    )


def _changes(before: asyncpg.Record, after: EventChanged) -> list[str]:
    """What changed about a published event that its ticket holders must hear of."""
    changes = []
    if before["starts_at"] != after.starts_at or before["ends_at"] != after.ends_at:
        changes.append(
            f"The time changed: it was {when(before['starts_at'])}, "
            f"it is now {when(after.starts_at)}."
        )
    if before["venue_id"] != after.venue.id:
        changes.append(
            f"The venue changed: it was {before['venue_name']}, {before['venue_city']}; "
            f"it is now {after.venue.name}, {after.venue.address}, {after.venue.city}."
        )
    return changes


async def apply_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    event = parse(EventChanged, message.payload)
    before = await conn.fetchrow(queries.EVENT_FOR_UPDATE, event.id)
    applied = await conn.fetchval(
        queries.UPSERT_EVENT,
        event.id,
        event.version,
        event.name,
        event.status,
        event.starts_at,
        event.ends_at,
        event.venue.id,
        event.venue.name,
        event.venue.address,
        event.venue.city,
        event.hold_expiry_reminder_s,
    )
    if not applied or before is None or before["status"] != "published":
        return
    context: dict[str, Any] = {
        "event_name": event.name,
        "event_starts_at": when(event.starts_at),
        "venue": f"{event.venue.name}, {event.venue.city}",
    }
    if event.status == "cancelled":
        kind = "event_cancelled"
    else:
        changes = _changes(before, event)
        if not changes:
            return
        kind, context["changes"] = "event_changed", "\n".join(changes)
    notice = {"event_id": event.id, "kind": kind, **context}
    for row in await conn.fetch(queries.TICKET_HOLDERS, event.id):
        user_id = row["user_id"]
        await queue_mail(
            conn, kind, f"{kind}:{event.id}:{event.version}:{user_id}", context, user_id=user_id
        )
        await record_notification(conn, user_id, "event.changed", notice)


REFUND_MAILS = {"succeeded": "refund_issued", "failed": "refund_failed"}
REFUND_REASONS = {
    "booking_cancelled": "you cancelled booking",
    "event_cancelled": "the organiser cancelled the event of booking",
    "payment_not_confirmed": "your payment came too late to confirm booking",
}


async def apply_refund_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Mail the customer once their refund is issued, or has failed for good."""
    change = parse(RefundChanged, message.payload)
    refund = change.refund
    kind = REFUND_MAILS.get(change.transition)
    if kind is not None:
        context = {
            "booking_id": str(refund.booking_id),
            "amount": str(refund.amount),
            "currency": refund.currency,
            "reason": REFUND_REASONS[refund.reason],
            **await _event_context(conn, refund.event_id),
        }
        await queue_mail(conn, kind, f"{kind}:{refund.id}", context, user_id=refund.user_id)
    await record_notification(
        conn, refund.user_id, "refund.changed", change.model_dump(mode="json")
    )


async def apply_account_mail_requested(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Queue a password reset or verification mail to the address the token is for."""
    mail = parse(AccountMailRequested, message.payload)
    context = {
        "recipient_name": mail.name or "there",
        "email": mail.email,
        "token": mail.token,
        "expires_at": when(mail.expires_at),
    }
    await queue_mail(
        conn,
        mail.kind,
        f"{mail.kind}:{mail.request_id}",
        context,
        user_id=mail.user_id,
        to_address=mail.email,
    )


INBOX_HANDLERS: dict[str, InboxHandler] = {
    AccountMailRequested.TOPIC: apply_account_mail_requested,
    UserChanged.TOPIC: apply_user_changed,
    BookingChanged.TOPIC: apply_booking_changed,
    WaitlistChanged.TOPIC: apply_waitlist_changed,
    EventChanged.TOPIC: apply_event_changed,
    RefundChanged.TOPIC: apply_refund_changed,
}
