"""An Event's phase, from the clock, the row's status and the availability figures.

The phase is status for people and dashboards, not the gate: bookings enforce the sale
window themselves. Pending means a draft (``published: false``) or not yet written.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from evently_operator.spec import EventSpec


class Phase(StrEnum):
    PENDING = "Pending"
    SCHEDULED = "Scheduled"
    ON_SALE = "OnSale"
    SOLD_OUT = "SoldOut"
    CLOSED = "Closed"
    CANCELLED = "Cancelled"
    INVALID = "Invalid"


def sale_phase(
    spec: EventSpec,
    now: dt.datetime,
    *,
    cancelled: bool = False,
    available: int | None = None,
) -> Phase:
    """The phase of a valid, written event at ``now``.

    Scheduled before ``sale.opensAt``, OnSale until ``sale.closesAt`` (or the event's
    end), SoldOut while on sale with nothing available, Closed afterwards.
    """
    if cancelled:
        return Phase.CANCELLED
    if not spec.published:
        return Phase.PENDING
    if spec.sale_opens_at is not None and now < spec.sale_opens_at:
        return Phase.SCHEDULED
    if now >= spec.sale_ends_at:
        return Phase.CLOSED
    if available is not None and available <= 0:
        return Phase.SOLD_OUT
    return Phase.ON_SALE
