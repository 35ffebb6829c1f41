"""The events service's refusals: each a problem+json with a stable ``code``.

They are plain exceptions (``ApiError`` subclasses), so the repository raises them
whoever calls it; the HTTP layer renders them and the Kubernetes operator can catch them.
"""

from __future__ import annotations

from evently.core.errors import (
    ApiError,
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
)


class EventNotFound(NotFound):
    code = "event_not_found"

    def __init__(self, event_id: int) -> None:
        super().__init__(f"There is no event {event_id}", event_id=event_id)


class EventManagedByKubernetes(Conflict):
    """The event belongs to a Kubernetes custom resource; change that resource instead."""

    code, title = "event_managed_by_kubernetes", "Event is managed by Kubernetes"

    def __init__(self, event_id: int, managed_by: str) -> None:
        namespace, _, name = managed_by.removeprefix("kubernetes:").partition("/")
        super().__init__(
            f"Event {event_id} is managed by the Kubernetes resource {managed_by}; "
            f"edit it with: kubectl -n {namespace} edit evt {name}",
            managed_by=managed_by,
            resource={"kind": "Event", "namespace": namespace, "name": name},
        )


class EventNotOwned(Conflict):
    """A resource tried to change an event it does not own."""

    code, title = "event_not_owned", "Event not owned by this resource"

    def __init__(self, event_id: int, managed_by: str) -> None:
        super().__init__(f"Event {event_id} is not managed by {managed_by}", managed_by=managed_by)


class ManagedByTaken(Conflict):
    code, title = "managed_by_taken", "Resource already owns an event"

    def __init__(self, managed_by: str) -> None:
        super().__init__(f"{managed_by} already owns an event", managed_by=managed_by)


class VersionMismatch(PreconditionFailed):
    code, title = "version_mismatch", "Version mismatch"

    def __init__(self, event_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"Event {event_id} is at version {current}, not {expected}; "
            "fetch it again and retry with the new ETag",
            expected_version=expected,
            current_version=current,
        )


class IfMatchRequired(ApiError):
    status, code, title = 428, "if_match_required", "Precondition required"

    def __init__(self) -> None:
        super().__init__(
            "Send If-Match with the event's version (its ETag) so concurrent edits "
            "cannot overwrite each other"
        )


class EventCancelled(Conflict):
    code, title = "event_cancelled", "Event is cancelled"

    def __init__(self, event_id: int) -> None:
        super().__init__(f"Event {event_id} is cancelled; a cancelled event cannot change")


class EventCompleted(Conflict):
    code, title = "event_completed", "Event is completed"

    def __init__(self, event_id: int) -> None:
        super().__init__(f"Event {event_id} is completed; it can no longer be cancelled")


class CapacityBelowReserved(Conflict):
    code, title = "capacity_below_reserved", "Capacity below seats sold and held"

    def __init__(self, event_id: int, requested: int, sold: int, held: int) -> None:
        super().__init__(
            f"Event {event_id} has {sold} seat(s) sold and {held} held; "
            f"its capacity cannot drop to {requested}",
            requested=requested,
            sold=sold,
            held=held,
            minimum_capacity=sold + held,
        )


class BookingsUnavailable(ServiceUnavailable):
    code = "bookings_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "2"})


class CapacityCheckUnavailable(ServiceUnavailable):
    """A capacity decrease needs bookings' figures, and no way to read them was given."""

    code = "capacity_check_unavailable"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Lowering event {event_id}'s capacity needs the seats bookings has sold and "
            "held; pass reserved_seats= to update_event"
        )


class EventBusy(ServiceUnavailable):
    code, title = "event_busy", "Busy, try again"

    def __init__(self) -> None:
        super().__init__(
            "Another change to this event or its venue is in progress; nothing was changed. "
            "Retry shortly.",
            headers={"Retry-After": "1"},
        )


# --- Venues and seat maps (docs/seating.md) -----------------------------------------


class VenueNotFound(NotFound):
    code = "venue_not_found"

    def __init__(self, venue_id: int) -> None:
        super().__init__(f"There is no venue {venue_id}", venue_id=venue_id)


class VenueExists(Conflict):
    code, title = "venue_exists", "Venue exists"

    def __init__(self, name: str, city: str, venue_id: int | None) -> None:
        super().__init__(
            f"A venue named {name!r} in {city!r} exists already (venue {venue_id}); "
            "(name, city) is unique, in any case",
            venue_id=venue_id,
        )


class VenueVersionMismatch(PreconditionFailed):
    code, title = "version_mismatch", "Version mismatch"

    def __init__(self, venue_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"Venue {venue_id} is at version {current}, not {expected}; "
            "fetch it again and retry with the new ETag",
            expected_version=expected,
            current_version=current,
        )


class SeatMapNotFound(NotFound):
    code = "seat_map_not_found"

    def __init__(self, map_id: int, version: int | None = None) -> None:
        what = (
            f"seat map {map_id}" if version is None else f"version {version} of seat map {map_id}"
        )
        super().__init__(f"There is no {what}", map_id=map_id)


class EventNotSeated(NotFound):
    code, title = "event_not_seated", "Event is general admission"

    def __init__(self, event_id: int) -> None:
        super().__init__(f"Event {event_id} is general admission: it has no seat map")


class SeatingChangeRefused(Conflict):
    """Moving an event between general admission and a map, or to another map, once
    seats are sold or held would leave those bookings without (or with the wrong) seats."""

    code, title = "seating_change_refused", "Seating cannot change"

    def __init__(self, event_id: int, sold: int, held: int) -> None:
        super().__init__(
            f"Event {event_id} has {sold} seat(s) sold and {held} held; its seating "
            "(general admission or which map version) can no longer change",
            sold=sold,
            held=held,
        )


class SeatMapTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Payload too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A seat map upload is at most {limit:,} bytes of JSON")


class InvalidZonePrices(ApiError):
    """A seated event's zone prices name a zone its map version does not sell, or a
    negative price (docs/seating.md, "Zone prices")."""

    status, code, title = 422, "invalid_zone_prices", "Invalid zone prices"

    def __init__(self, errors: list[FieldError]) -> None:
        fields = ", ".join(e.field.removeprefix("body.") for e in errors)
        super().__init__(f"Invalid field(s): {fields}", errors=errors)


class InvalidChannels(ApiError):
    """A seated event's channel allocations name a seat that is not a sellable seat of
    its map version, or one seat twice (docs/seating.md, "Channel allocations")."""

    status, code, title = 422, "invalid_channels", "Invalid channel allocations"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("Invalid field(s): seating.channels", errors=errors)
