"""The waiting room's refusals: each a problem+json with a stable ``code`` (docs/errors.md)."""

from __future__ import annotations

from evently.core.errors import Conflict, NotFound


class WaitingRoomNotFound(NotFound):
    code, title = "waiting_room_not_found", "No waiting room"

    def __init__(self, event_id: int) -> None:
        super().__init__(f"Event {event_id} has no waiting room", event_id=event_id)


class WaitingRoomDisabled(Conflict):
    code, title = "waiting_room_disabled", "Waiting room disabled"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Event {event_id}'s waiting room is switched off: buy directly", event_id=event_id
        )


class WaitingRoomNotOpen(Conflict):
    code, title = "waiting_room_not_open", "Waiting room not open yet"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Event {event_id}'s waiting room does not accept visitors yet; see its "
            "prequeue_opens_at",
            event_id=event_id,
        )


class WaitingRoomClosed(Conflict):
    code, title = "waiting_room_closed", "Waiting room closed"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Event {event_id} is sold out and its waiting room is closed", event_id=event_id
        )


class QueueTicketNotFound(NotFound):
    code, title = "queue_ticket_not_found", "Not in the waiting room"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"You have not joined event {event_id}'s waiting room: POST "
            f"/api/v1/events/{event_id}/waiting-room/join",
            event_id=event_id,
        )


JOIN_REFUSALS = {
    "waiting_room_not_found": WaitingRoomNotFound,
    "waiting_room_disabled": WaitingRoomDisabled,
    "waiting_room_not_open": WaitingRoomNotOpen,
    "waiting_room_closed": WaitingRoomClosed,
}
