"""Settings for the search service."""

from __future__ import annotations

import re
from typing import Literal

from evently.core.settings import CommonSettings, setting
from evently.search.models import DEFAULT_COUNT_LIMIT

_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,100}$")


class SearchSettings(CommonSettings):
    """Everything the search service reads from the environment."""

    search_backend: Literal["postgres", "opensearch"] = setting(
        "SEARCH_BACKEND", "postgres", "postgres or opensearch"
    )
    opensearch_url: str = setting(
        "OPENSEARCH_URL", "http://opensearch:9200", "an http(s):// URL (credentials allowed)"
    )
    opensearch_index: str = setting(
        "OPENSEARCH_INDEX",
        "evently-events",
        "the alias searches and writes go through (lower case, digits, - and _)",
    )
    opensearch_timeout_s: float = setting("OPENSEARCH_TIMEOUT_S", 5.0, "seconds > 0")
    opensearch_replicas: int = setting("OPENSEARCH_REPLICAS", 1, "replicas per shard (>= 0)")
    opensearch_refresh: Literal["false", "true", "wait_for"] = setting(
        "OPENSEARCH_REFRESH", "false", "refresh after each write: false, true or wait_for"
    )
    opensearch_check_interval_s: float = setting(
        "OPENSEARCH_CHECK_INTERVAL_S",
        10.0,
        "seconds between checks that the alias exists (rebuilt from PostgreSQL if not)",
    )
    count_limit: int = setting(
        "SEARCH_COUNT_LIMIT",
        DEFAULT_COUNT_LIMIT,
        "matches counted for the total and each facet before counting stops (>= 1)",
    )
    reindex_batch_size: int = setting("SEARCH_REINDEX_BATCH_SIZE", 500, "documents per bulk")
    index_write_lock_timeout_ms: int = setting(
        "SEARCH_INDEX_WRITE_LOCK_TIMEOUT_MS",
        5000,
        "milliseconds an index write waits for a reindex's alias swap (> 0)",
    )

    @staticmethod
    def check_opensearch_url(value: str) -> str | None:
        return None if value.startswith(("http://", "https://")) else "expected an http(s):// URL"

    @staticmethod
    def check_opensearch_index(value: str) -> str | None:
        if _INDEX_NAME.match(value):
            return None
        return "expected lower case letters, digits, - and _ (no wildcards)"

    @staticmethod
    def check_opensearch_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_opensearch_replicas(value: int) -> str | None:
        return None if value >= 0 else "expected an integer >= 0"

    @staticmethod
    def check_opensearch_check_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_count_limit(value: int) -> str | None:
        return None if 1 <= value <= 1_000_000 else "expected 1-1000000"

    @staticmethod
    def check_reindex_batch_size(value: int) -> str | None:
        return None if 1 <= value <= 10_000 else "expected 1-10000"

    @staticmethod
    def check_index_write_lock_timeout_ms(value: int) -> str | None:
        return None if value > 0 else "expected milliseconds > 0"
