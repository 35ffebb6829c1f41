"""What the search service accepts and answers: query parameters, messages, results."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from evently.core import contracts
from evently.core.query_params import IsoOnly

MAX_RESULT_WINDOW = 10_000  # page * limit; OpenSearch's default max_result_window
# Matches counted for the total and for each facet before counting stops: a broad
# search over a million events reads this many rows, not all of its matches (each one a
# table row for a text search; 10,000, OpenSearch's default track_total_hits, cost
# 35-100 ms per count at 1,000,000 events). SEARCH_COUNT_LIMIT overrides it.
DEFAULT_COUNT_LIMIT = 1_000
MAX_FUZZY_WORDS = 5
# Highlight marks: private-use characters no event text contains (they are stripped on
# indexing), turned into <em> after the text around them is HTML-escaped.
MARK_START, MARK_END = "\ue000", "\ue001"
_MARKS = str.maketrans("", "", MARK_START + MARK_END)
_INNER_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SortOrder = Literal["relevance", "date", "price"]


def fold(text: str) -> str:
    """Lower case without accents, like the database's ``search.fold``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_bound(value: Any, *, end_of_day: bool) -> Any:
    """``2030-05-01`` means that whole day: from its start, or up to the next day's start."""
    if isinstance(value, str) and _DATE_ONLY.match(value):
        day = date.fromisoformat(value)
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=UTC)
    return value


class SearchQuery(pydantic.BaseModel):
    """``GET /api/v1/search`` parameters; unknown parameters are rejected."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    q: str | None = Field(None, max_length=200, description="Full text; empty = listing")
    city: str | None = Field(None, min_length=1, max_length=100)
    type: str | None = Field(None, min_length=1, max_length=50)
    starts_from: Annotated[datetime | None, IsoOnly] = Field(
        None, alias="from", description="Events starting at or after (ISO date or datetime)"
    )
    starts_before: Annotated[datetime | None, IsoOnly] = Field(
        None, alias="to", description="Events starting before (a date includes that day)"
    )
    min_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=4)
    max_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=4)
    available: bool | None = Field(None, description="true: only events with seats left")
    sort: SortOrder | None = Field(None, description="Default: relevance with q, else date")
    limit: int = Field(20, ge=1, le=100)
    page: int = Field(1, ge=1)
    include_past: bool = Field(
        False,
        description="Also find events that have ended; without it, and without from/to, "
        "only events that have not ended yet are found",
    )

    @property
    def upcoming_only(self) -> bool:
        """Whether only events that have not ended are found (the default)."""
        return not self.include_past and self.starts_from is None and self.starts_before is None

    @pydantic.field_validator("q", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @pydantic.field_validator("starts_from", mode="before")
    @classmethod
    def _parse_from(cls, value: Any) -> Any:
        return _parse_bound(value, end_of_day=False)

    @pydantic.field_validator("starts_before", mode="before")
    @classmethod
    def _parse_to(cls, value: Any) -> Any:
        return _parse_bound(value, end_of_day=True)

    @pydantic.field_validator("starts_from")
    @classmethod
    def _from_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)

    @pydantic.field_validator("starts_before")
    @classmethod
    def _to_after_from(
        cls, value: datetime | None, info: pydantic.ValidationInfo
    ) -> datetime | None:
        if value is None:
            return None
        value = _as_utc(value)
        start = info.data.get("starts_from")
        if start is not None and value <= start:
            raise ValueError("must be after 'from'")
        return value

    @pydantic.field_validator("max_price")
    @classmethod
    def _max_not_below_min(
        cls, value: Decimal | None, info: pydantic.ValidationInfo
    ) -> Decimal | None:
        low = info.data.get("min_price")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below min_price")
        return value

    @pydantic.field_validator("page")
    @classmethod
    def _within_result_window(cls, value: int, info: pydantic.ValidationInfo) -> int:
        limit = info.data.get("limit") or 1
        if value * limit > MAX_RESULT_WINDOW:
            raise ValueError(f"page * limit must not exceed {MAX_RESULT_WINDOW}; refine the query")
        return value

    @property
    def effective_sort(self) -> SortOrder:
        if self.sort is not None:
            return self.sort
        return "relevance" if self.q else "date"

    @property
    def text(self) -> str:
        """``q`` with hyphens inside words read as spaces ("stand-up" -> "stand up"), so
        they need no phrase matching; a leading "-" still excludes, quotes still quote."""
        return _INNER_HYPHEN.sub(" ", self.q or "")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    @property
    def fuzzy_words(self) -> list[str]:
        """Query words worth matching approximately (3+ letters, not excluded with '-')."""
        if not self.q:
            return []
        words: list[str] = []
        for token in self.q.split():
            if token.startswith("-"):
                continue
            for word in re.findall(r"\w+", fold(token)):
                if len(word) >= 3 and word not in words and word != "or":
                    words.append(word)
        return words[:MAX_FUZZY_WORDS]


class SuggestQuery(pydantic.BaseModel):
    """``GET /api/v1/search/suggest`` parameters."""

    model_config = pydantic.ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=100, description="What was typed so far")
    limit: int = Field(8, ge=1, le=20)

    @pydantic.field_validator("q", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


# ---- messages from other services (see docs/outbox.md) ----


def _clean_text(value: Any) -> Any:
    return value.translate(_MARKS) if isinstance(value, str) else value


CleanText = Annotated[str, pydantic.BeforeValidator(_clean_text)]


class CleanVenue(contracts.EventVenueSummary):
    name: CleanText
    city: CleanText


class EventChange(contracts.EventChanged):
    """``event.changed`` (``core.contracts``) as search indexes it: the text stripped of
    the private-use characters that mark highlights."""

    name: CleanText
    description: CleanText
    type: CleanText
    venue: CleanVenue

    @property
    def searchable(self) -> bool:
        """Only published events are ever shown; drafts, cancelled, completed are not."""
        return self.status == "published"


# ``inventory.changed`` exactly as its contract defines it.
InventoryChange = contracts.InventoryChanged


class SearchDocument(pydantic.BaseModel):
    """One event as the index holds it: event fields merged with availability."""

    event_id: int
    event_version: int
    inventory_version: int
    searchable: bool
    status: str | None
    name: str
    description: str
    type: str
    starts_at: datetime | None
    ends_at: datetime | None
    price: Decimal | None
    currency: str | None
    venue_id: int | None
    venue_name: str
    city: str
    seats_available: int | None
    on_sale: bool | None
    sold_out: bool
    available: bool

    @property
    def external_version(self) -> int:
        """One number that grows with either version: (event_version << 32) + inventory.

        Both parts only ever grow (older messages are ignored), so the sum does too, and
        an availability update is never rejected as older than an event update.
        """
        return (self.event_version << 32) + self.inventory_version


# ---- results ----


class Venue(pydantic.BaseModel):
    id: int | None
    name: str
    city: str


class SearchHit(pydantic.BaseModel):
    id: int
    name: str
    description: str
    type: str
    starts_at: datetime | None
    ends_at: datetime | None
    price: str | None = Field(description="Decimal string, e.g. 49.90")
    currency: str | None
    venue: Venue
    available: bool
    sold_out: bool
    seats_available: int | None
    highlights: dict[str, str] = Field(
        default_factory=dict, description="HTML-escaped snippets with <em> around matches"
    )


class FacetCount(pydantic.BaseModel):
    value: str
    count: int


class Facets(pydantic.BaseModel):
    type: list[FacetCount]
    city: list[FacetCount]


class SearchResults(pydantic.BaseModel):
    total: int = Field(
        description="Matching events, counted up to the count limit (SEARCH_COUNT_LIMIT)"
    )
    total_is_exact: bool = Field(
        description="false: more events match than the count limit; total is that limit"
    )
    page: int
    limit: int
    sort: SortOrder
    hits: list[SearchHit]
    facets: Facets = Field(description="Counts honouring every other filter")
    facets_are_exact: bool = Field(
        description="false: a facet's matches exceeded the count limit, and its counts "
        "cover only the matches counted (lower bounds)"
    )


class VenueSuggestion(pydantic.BaseModel):
    name: str
    city: str


class Suggestions(pydantic.BaseModel):
    q: str
    events: list[str]
    venues: list[VenueSuggestion]


class BackendHealth(pydantic.BaseModel):
    backend: str
    problem: str | None = None


class ReindexReport(pydantic.BaseModel):
    backend: str
    index: str | None = None
    previous: list[str] = Field(default_factory=list)
    documents: int
    caught_up: int = 0
    seconds: float
