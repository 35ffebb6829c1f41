"""Settings for the search service."""

from __future__ import annotations

from dataclasses import dataclass

from evently.core.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class SearchSettings(CommonSettings):
    """Everything the search service reads from the environment."""
