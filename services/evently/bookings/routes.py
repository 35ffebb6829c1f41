"""HTTP routes of the bookings service: thin handlers over the domain functions.

Each domain function returns a model of ``models.py``; ``json_response`` renders it.
"""

from __future__ import annotations

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
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.core.api import Api, json_response
from evently.core.auth import principal, require_internal, require_user
from evently.core.health import SHUTTING_DOWN
from evently.core.inbox import add_inbox_route
from evently.core.net import address_bucket, client_address
from evently.core.settings import SETTINGS

api = Api("bookings")
ID = {"id": int}


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
        client_address=address_bucket(
            client_address(request, request.app[SETTINGS].trusted_proxies)
        ),
    )
    headers = {"Idempotency-Replayed": "true"} if hold.replayed else None
    return json_response(hold.booking_json, 201, headers)


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
    return json_response(page)


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
    return json_response(booking)


@api.post(
    "/api/v1/bookings/{id}/confirm",
    summary="Confirm a held booking (the 'paid' signal)",
    response=BookingOut,
    auth=require_user,
    path_params=ID,
    errors=(409, 503),
)
async def confirm_booking(request: web.Request, id: int) -> web.Response:
    confirmed = await request.app[BOOKINGS].confirmer.confirm_booking(
        booking_id=id, user_id=principal(request).user_id
    )
    return json_response(confirmed)


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
    return json_response(booking)


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
    return json_response(entry, 201)


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
    return json_response(entry)


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
    return json_response(entry)


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
        raise refuse(Outcome.EVENT_NOT_FOUND)
    return await availability_stream.stream_availability(
        request,
        ctx.streams,
        state.model_dump_json(),
        id,
        ctx.settings.sse_heartbeat_s,
        request.app[SHUTTING_DOWN],
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
        raise refuse(Outcome.EVENT_NOT_FOUND)
    return json_response(state)


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
    return json_response(page)


# POST /internal/inbox: the events service's event.changed messages feed the inventory.
add_inbox_route(api, "bookings", {"event.changed": inventory.apply_event_changed})
