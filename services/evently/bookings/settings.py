"""Settings for the bookings service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class BookingsSettings(CommonSettings):
    """Everything the bookings service reads from the environment."""
