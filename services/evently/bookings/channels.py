"""Channel allocations (docs/seating.md, "Channel allocations"): who may hold seats a
seated event keeps back for a channel (a promoter, say).

The seats and their channels come with ``event.changed`` (``sql/apply_event_changed.sql``)
and the hold function keeps them from public holds and best-available
(``sql/hold_seats.sql``). A request naming a channel may hold its seats; only an admin,
or an account an admin granted ``channels:hold``, may name one.
"""

from __future__ import annotations

from evently.core.auth import Principal
from evently.core.errors import Forbidden

HOLD_PERMISSION = "channels:hold"


def check_channel_holder(caller: Principal) -> None:
    """Refuse (403 ``channel_not_allowed``) a caller who may not hold channel seats."""
    if caller.is_admin or caller.can(HOLD_PERMISSION):
        return
    raise Forbidden(
        "Only an admin or an account granted channels:hold may hold a channel's seats.",
        code="channel_not_allowed",
        title="Channel not allowed",
    )
