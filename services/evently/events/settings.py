"""Settings for the events service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings, setting


@dataclass(frozen=True, kw_only=True)
class EventsSettings(CommonSettings):
    """Everything the events service reads from the environment."""

    outbox_relay_enabled: bool = setting(
        "OUTBOX_RELAY_ENABLED", True, "true or false: run the outbox relay in this replica"
    )
    outbox_poll_interval_s: float = setting(
        "OUTBOX_POLL_INTERVAL_S", 1.0, "seconds > 0 between outbox polls (NOTIFY wakes sooner)"
    )
    outbox_max_backoff_s: float = setting(
        "OUTBOX_MAX_BACKOFF_S", 60.0, "seconds > 0: the longest wait before retrying a consumer"
    )

    @staticmethod
    def check_outbox_poll_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_outbox_max_backoff_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"
