"""The waiting room's Prometheus metrics (docs/metrics.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TICKS = Counter("evently_waiting_room_ticks_total", "Room ticks this process performed.")
ADMISSIONS = Counter(
    "evently_waiting_room_admissions_total", "Visitors admitted from a waiting room."
)
SESSIONS_EXPIRED = Counter(
    "evently_waiting_room_sessions_expired_total",
    "Admitted shopping sessions that expired (their TTL, or idle), freeing their slots.",
)
SESSIONS_COMPLETED = Counter(
    "evently_waiting_room_sessions_completed_total",
    "Admitted shopping sessions ended by a purchase, freeing their slots.",
)
JOINS = Counter("evently_waiting_room_joins_total", "Join requests, by outcome.", ["outcome"])
STATUS_POLLS = Counter(
    "evently_waiting_room_status_polls_total",
    "Status polls, by how they were answered (not_modified: from memory).",
    ["answer"],
)

# Per-event figures, set by every replica's ticker pass (each reads a room's counts, ticking
# it or not); a room no longer enabled drops its series. Rooms are few: one per flash sale.
QUEUE_LENGTH = Gauge(
    "evently_waiting_room_queue_length",
    "Visitors waiting in a room (pre-queue included), as of this replica's last pass.",
    ["event_id"],
)
ACTIVE_SHOPPERS = Gauge(
    "evently_waiting_room_active_shoppers",
    "Admitted visitors whose shopping session is open, as of this replica's last pass.",
    ["event_id"],
)
ROOM_ADMISSIONS = Counter(
    "evently_waiting_room_event_admissions_total",
    "Visitors admitted, by event (this process's ticks).",
    ["event_id"],
)
WAIT_TIME = Histogram(
    "evently_waiting_room_wait_seconds",
    "Time from joining a room to admission.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
)
TICK_FAILURES = Counter(
    "evently_waiting_room_tick_failures_total",
    "Room ticks that failed (logged; the next pass retries; other rooms are not held up).",
)
LAST_TICK = Gauge(
    "evently_waiting_room_last_tick_timestamp_seconds",
    "When this process's ticker last completed a pass over the rooms (Unix time).",
)
STREAM_UPDATES = Counter(
    "evently_waiting_room_stream_updates_total",
    "Status updates pushed to open visitor streams.",
)
STREAMS = Gauge("evently_waiting_room_streams", "Visitor status streams open in this process.")
STREAM_FANOUTS = Counter(
    "evently_waiting_room_stream_fanouts_total",
    "Room changes fanned out to open streams (at most one database query each, whatever "
    "the number of visitors).",
)
STREAM_FANOUT_READS = Counter(
    "evently_waiting_room_stream_fanout_reads_total",
    "Fan-outs that read visitors from the database (those whose status memory cannot tell: "
    "admitted, newly placed, or not known here yet); visitors in line are told from memory.",
)
# The fan-out of a room change to this process's streams (stream.py), by what changed
# (``sold_out``: the change that sold the event out; ``other``) and how the statuses were
# found (``memory``: in the LISTEN callback; ``read``: the database read that follows).
FANOUT_SECONDS = Histogram(
    "evently_waiting_room_fanout_seconds",
    "Time from this process hearing a room change to the last stream written for it.",
    ["kind", "path"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
FANOUT_STREAMS = Counter(
    "evently_waiting_room_fanout_streams_total",
    "Streams written a new status by room fan-outs, by what changed and how it was found.",
    ["kind", "path"],
)
CHANGE_HEARD = Histogram(
    "evently_waiting_room_change_heard_seconds",
    "Time from a room change's notification (notify_room, at its commit) to this "
    "process's LISTEN callback running: how long the change waited for the event loop.",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
JOIN_BATCH_SECONDS = Histogram(
    "evently_waiting_room_join_batch_seconds",
    "Time a batch of joins spent from taking a pooled connection to its statuses read "
    "(visitors.JoinBatcher: one batch of a room in the database at a time).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2),
)
JOIN_BATCH_JOINS = Counter(
    "evently_waiting_room_join_batch_joins_total",
    "Joins that went to the database in batches (over the batches' count: the mean size).",
)
