"""A room's fairness report in analytics: fetched from the waiting room's internal API.

The room computes the report from its own tables (queue tickets, who bought, refusals;
docs/waiting-room.md); analytics keeps no copy and recomputes nothing, so the two can
never disagree. ``GET {WAITING_ROOM_URL}/internal/events/{id}/waiting-room/report``
(``X-Internal-Key``); its 404 is the room's ``waiting_room_not_found``, and an
unreachable or failing room is a 503 ``waiting_room_unavailable``.
"""

from __future__ import annotations

from evently.core.clients import InternalClient
from evently.core.errors import ServiceUnavailable
from evently.waiting_room.errors import WaitingRoomNotFound
from evently.waiting_room.report_models import FairnessReport


class WaitingRoomUnavailable(ServiceUnavailable):
    code, title = "waiting_room_unavailable", "Waiting room unavailable"


async def fetch_room_report(room: InternalClient, event_id: int) -> FairnessReport:
    """The room's report of ``event_id``, as the room serves it."""
    status, body = await room.get(f"/internal/events/{event_id}/waiting-room/report")
    if status == 404:
        raise WaitingRoomNotFound(event_id)
    if status != 200 or not isinstance(body, dict):
        raise WaitingRoomUnavailable(
            f"The waiting room answered {status} for event {event_id}'s report; try again shortly.",
            headers={"Retry-After": "2"},
        )
    return FairnessReport.model_validate(body)
