"""The search service's own failures."""

from __future__ import annotations

from evently.core.errors import ServiceUnavailable


class SearchUnavailable(ServiceUnavailable):
    """The search engine cannot answer right now; the request changed nothing."""

    code = "search_unavailable"
    title = "Search unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "Search is temporarily unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )


class ReindexBusy(RuntimeError):
    """Another reindex holds the reindex lock."""
