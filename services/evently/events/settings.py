"""Settings for the events service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class EventsSettings(CommonSettings):
    """Everything the events service reads from the environment."""
