"""Moving a sale's window from the command line: open, close, drain.

Each is a merge patch of ``spec.sale``: the operator (and its webhook) then treat it like
any other edit, and bookings, which enforces the window, refuses new holds once the
sale has closed while still confirming the holds already taken. ``drain`` is close-sale
now, then waiting until nobody holds seats any more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from evently_operator.spec import parse_time


class SaleError(Exception):
    """The requested change makes no sense for this Event; the message says why."""


def moment(text: str, now: dt.datetime) -> dt.datetime:
    """``NOW`` (any case) or an RFC 3339 time."""
    if text.strip().lower() == "now":
        return now
    try:
        return parse_time(text)
    except ValueError as exc:
        raise SaleError(f"{text!r} is neither NOW nor an RFC 3339 time") from exc


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sale(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return (event.get("spec") or {}).get("sale") or {}


def open_patch(
    event: Mapping[str, Any], opens: dt.datetime, until: dt.datetime | None
) -> dict[str, Any]:
    """Open at ``opens``; a closing time already past (a drained sale) is dropped, so the
    sale runs until ``until`` or the event's end."""
    sale: dict[str, Any] = {"opensAt": rfc3339(opens)}
    closes = _sale(event).get("closesAt")
    if until is not None:
        if until <= opens:
            raise SaleError("--until must be after the opening time")
        sale["closesAt"] = rfc3339(until)
    elif closes is not None and parse_time(closes) <= opens:
        sale["closesAt"] = None
    return {"spec": {"sale": sale}}


def close_patch(event: Mapping[str, Any], closes: dt.datetime) -> dict[str, Any]:
    """Close at ``closes``; refused before the sale has opened (use open-sale first)."""
    opens = _sale(event).get("opensAt")
    if opens is not None and parse_time(opens) >= closes:
        raise SaleError(f"the sale opens at {opens}, after {rfc3339(closes)}: nothing to close yet")
    return {"spec": {"sale": {"closesAt": rfc3339(closes)}}}


def drained(event: Mapping[str, Any]) -> bool:
    """The operator has seen the closed window and no seats are held any more."""
    meta, status = event.get("metadata") or {}, event.get("status") or {}
    return status.get("observedGeneration") == meta.get("generation") and status.get("held", 0) == 0
