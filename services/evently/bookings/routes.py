"""HTTP routes of the bookings service: thin handlers over the domain functions.

Bodies come back from PostgreSQL already rendered as JSON text and pass straight through.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from evently.bookings import (
    availability_stream,
    cancellations,
    idempotency,
    inventory,
    lookups,
    waitlist,
)
from evently.bookings.context import BOOKINGS
from evently.bookings.models import (
    AvailabilityOut,
    BookingCreate,
    BookingListQuery,
    BookingOut,
    BookingPage,
    PageQuery,
    WaitlistEntryOut,
    WaitlistJoin,
)
from evently.bookings.refusals import refuse
from evently.core.api import Api
from evently.core.auth import principal, require_internal, require_user
from evently.core.health import SHUTTING_DOWN
from evently.core.inbox import add_inbox_route

api = Api("bookings")
ID = {"id": int}


def json_text(
    body: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


@api.post(
    "/api/v1/bookings",
    summary="Hold seats (requires an Idempotency-Key header)",
    description="Holds `quantity` seats until the event's hold TTL passes; confirm to keep "
    "them. The same Idempotency-Key with the same body returns the stored response.",
    body=BookingCreate,
    response=BookingOut,
    status=201,
    auth=require_user,
    errors=(404, 409, 422, 503),
    headers=(idempotency.KEY_HEADER,),
    response_headers=(idempotency.REPLAYED_HEADER,),
)
async def create_booking(request: web.Request, body: BookingCreate) -> web.Response:
    key = idempotency.read_key(request)
    hold = await request.app[BOOKINGS].holder.hold_seats(
        user_id=principal(request).user_id,
        event_id=body.event_id,
        quantity=body.quantity,
        idempotency_key=key,
        request_hash=idempotency.request_hash(body.model_dump()),
    )
    headers = {"Idempotency-Replayed": "true"} if hold.replayed else None
    return json_text(hold.body, 201, headers)


@api.get(
    "/api/v1/bookings",
    summary="Your bookings, newest first",
    query=BookingListQuery,
    response=BookingPage,
    auth=require_user,
)
async def list_my_bookings(request: web.Request, query: BookingListQuery) -> web.Response:
    page = await lookups.list_bookings(
        request.app[BOOKINGS],
        user_id=principal(request).user_id,
        page=query.page,
        limit=query.limit,
        event_id=query.event_id,
        status=query.status,
    )
    return json_text(page)


@api.get(
    "/api/v1/bookings/{id}",
    summary="One booking (its owner, or an admin with bookings:read)",
    response=BookingOut,
    auth=require_user,
    path_params=ID,
)
async def get_booking(request: web.Request, id: int) -> web.Response:
    booking = await lookups.get_booking(
        request.app[BOOKINGS], booking_id=id, viewer=principal(request)
    )
    return json_text(booking)


@api.post(
    "/api/v1/bookings/{id}/confirm",
    summary="Confirm a held booking (the 'paid' signal)",
    response=BookingOut,
    auth=require_user,
    path_params=ID,
    errors=(409, 503),
)
async def confirm_booking(request: web.Request, id: int) -> web.Response:
    booking = await request.app[BOOKINGS].confirmer.confirm_booking(
        booking_id=id, user_id=principal(request).user_id
    )
    return json_text(booking)


@api.post(
    "/api/v1/bookings/{id}/cancel",
    summary="Cancel a held or confirmed booking; its seats return at once",
    response=BookingOut,
    auth=require_user,
    path_params=ID,
    errors=(409, 503),
)
async def cancel_booking(request: web.Request, id: int) -> web.Response:
    booking = await cancellations.cancel_booking(
        request.app[BOOKINGS], booking_id=id, user_id=principal(request).user_id
    )
    return json_text(booking)


@api.post(
    "/api/v1/events/{id}/waitlist",
    summary="Join the event's waitlist (sold out or not yet on sale; once per user)",
    body=WaitlistJoin,
    response=WaitlistEntryOut,
    status=201,
    auth=require_user,
    path_params=ID,
    errors=(409, 422, 503),
)
async def join_waitlist(request: web.Request, id: int, body: WaitlistJoin) -> web.Response:
    entry = await waitlist.join_waitlist(
        request.app[BOOKINGS],
        event_id=id,
        user_id=principal(request).user_id,
        quantity=body.quantity,
    )
    return json_text(entry, 201)


@api.get(
    "/api/v1/events/{id}/waitlist/me",
    summary="Your place and status in the event's waitlist",
    response=WaitlistEntryOut,
    auth=require_user,
    path_params=ID,
)
async def my_waitlist_entry(request: web.Request, id: int) -> web.Response:
    entry = await waitlist.my_waitlist_entry(
        request.app[BOOKINGS], event_id=id, user_id=principal(request).user_id
    )
    return json_text(entry)


@api.delete(
    "/api/v1/events/{id}/waitlist/me",
    summary="Leave the event's waitlist (declining an open offer)",
    response=WaitlistEntryOut,
    auth=require_user,
    path_params=ID,
    errors=(503,),
)
async def leave_waitlist(request: web.Request, id: int) -> web.Response:
    entry = await waitlist.leave_waitlist(
        request.app[BOOKINGS], event_id=id, user_id=principal(request).user_id
    )
    return json_text(entry)


@api.get(
    "/api/v1/events/{id}/availability/stream",
    summary="Live availability as server-sent events (`availability` events, heartbeats)",
    response={"type": "string"},
    response_content_type="text/event-stream",
    path_params=ID,
    errors=(503,),
)
async def stream_availability(request: web.Request, id: int) -> web.StreamResponse:
    ctx = request.app[BOOKINGS]
    state = await inventory.read_availability(ctx.pool, id, public=True)
    if state is None:
        raise refuse("event_not_found")
    return await availability_stream.stream_availability(
        request, ctx.streams, state, id, ctx.settings.sse_heartbeat_s, request.app[SHUTTING_DOWN]
    )


@api.get(
    "/internal/events/{id}/availability",
    summary="Live seat counts of one event (for the events service)",
    response=AvailabilityOut,
    auth=require_internal,
    path_params=ID,
)
async def internal_availability(request: web.Request, id: int) -> web.Response:
    state = await inventory.read_availability(request.app[BOOKINGS].pool, id, public=False)
    if state is None:
        raise refuse("event_not_found")
    return json_text(state)


@api.get(
    "/internal/users/{id}/bookings",
    summary="One user's bookings, newest first (for the users service)",
    query=PageQuery,
    response=BookingPage,
    auth=require_internal,
    path_params=ID,
)
async def internal_user_bookings(request: web.Request, id: int, query: PageQuery) -> web.Response:
    page = await lookups.list_bookings(
        request.app[BOOKINGS], user_id=id, page=query.page, limit=query.limit
    )
    return json_text(page)


# POST /internal/inbox: the events service's event.changed messages feed the inventory.
add_inbox_route(api, "bookings", {"event.changed": inventory.apply_event_changed})
