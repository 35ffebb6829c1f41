"""Settings for the events service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import OutboxRelaySettings


@dataclass(frozen=True, kw_only=True)
class EventsSettings(OutboxRelaySettings):
    """Everything the events service reads from the environment (the relay's settings)."""
