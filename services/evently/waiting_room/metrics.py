"""The waiting room's Prometheus metrics (docs/metrics.md)."""

from __future__ import annotations

from prometheus_client import Counter

TICKS = Counter("evently_waiting_room_ticks_total", "Room ticks this process performed.")
ADMISSIONS = Counter(
    "evently_waiting_room_admissions_total", "Visitors admitted from a waiting room."
)
SESSIONS_EXPIRED = Counter(
    "evently_waiting_room_sessions_expired_total",
    "Admitted shopping sessions that expired, freeing their slots.",
)
JOINS = Counter("evently_waiting_room_joins_total", "Join requests, by outcome.", ["outcome"])
STATUS_POLLS = Counter(
    "evently_waiting_room_status_polls_total",
    "Status polls, by how they were answered (not_modified: from memory).",
    ["answer"],
)
