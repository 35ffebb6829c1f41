"""Settings for the events service."""

from __future__ import annotations

from evently.core.settings import OutboxRelaySettings


class EventsSettings(OutboxRelaySettings):
    """Everything the events service reads from the environment (the relay's settings)."""
