"""Settings for the users service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class UsersSettings(CommonSettings):
    """Everything the users service reads from the environment."""
