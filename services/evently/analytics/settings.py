"""Settings for the analytics service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class AnalyticsSettings(CommonSettings):
    """Everything the analytics service reads from the environment."""
