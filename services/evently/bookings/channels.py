"""Channel allocations (docs/seating.md, "Channel allocations"): who may hold seats a
seated event keeps back for a channel (a promoter, say).

The seats and their channels come with ``event.changed`` (``sql/apply_event_changed.sql``)
and the hold function keeps them from public holds and best-available
(``sql/hold_seats.sql``). A request naming a channel may hold its seats; only an admin,
or an account an admin granted ``channels:hold`` (every channel) or
``channels:hold:<channel>`` (that one), may name it.
"""

from __future__ import annotations

from evently.core.auth import Principal
from evently.core.errors import Forbidden

HOLD_PERMISSION = "channels:hold"


def channel_hold_permission(channel: str) -> str:
    """The staff permission that allows holding ``channel``'s seats and no other's."""
    return f"{HOLD_PERMISSION}:{channel}"


def may_hold_channel(caller: Principal, channel: str) -> bool:
    """Whether ``caller`` may hold seats kept back for ``channel``."""
    return (
        caller.is_admin
        or caller.can(HOLD_PERMISSION)
        or caller.can(channel_hold_permission(channel))
    )


def check_channel_holder(caller: Principal, channel: str) -> None:
    """Refuse (403 ``channel_not_allowed``) a caller who may not hold ``channel``'s seats."""
    if may_hold_channel(caller, channel):
        return
    raise Forbidden(
        f"Only an admin or an account granted channels:hold or channels:hold:{channel} "
        "may hold this channel's seats.",
        code="channel_not_allowed",
        title="Channel not allowed",
    )
