"""Prometheus metrics of the notifications service (docs/notifications.md, "Metrics")."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MAILS = Counter(
    "evently_notifications_mails_total",
    "Mail send attempts by kind and outcome (sent|retry|rejected|waiting_for_address).",
    ["kind", "outcome"],
)
MAIL_QUEUE_PENDING = Gauge(
    "evently_notifications_pending_mails",
    "Mails queued and not yet sent (an SMTP outage makes this grow, not fail bookings).",
)
MAIL_QUEUE_OLDEST = Gauge(
    "evently_notifications_oldest_pending_mail_age_seconds",
    "Age of the oldest mail not yet sent.",
)
STREAM_SUBSCRIBERS = Gauge(
    "evently_notifications_streams",
    "Per-user notification streams open in this process.",
)
HOLD_REMINDERS = Counter(
    "evently_notifications_hold_reminders_total",
    "Due hold reminders by outcome (queued: the mail was queued; skipped: the booking was "
    "no longer held).",
    ["outcome"],
)
