"""HTTP routes of the waiting room service: thin handlers over ``visitors.py``."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import ETAG, Api, Header, json_response
from evently.core.auth import principal, require_internal, require_user
from evently.core.errors import ServiceUnavailable
from evently.core.health import SHUTTING_DOWN
from evently.core.inbox import add_inbox_route
from evently.core.signing_keys import JWKS_SCHEMA
from evently.waiting_room.context import WAITING_ROOM
from evently.waiting_room.metrics import STATUS_POLLS
from evently.waiting_room.models import QueueTicketOut, RoomOut
from evently.waiting_room.purchases import PURCHASE_GROUP_HANDLERS, PURCHASE_HANDLERS
from evently.waiting_room.report_routes import add_report_routes
from evently.waiting_room.rooms import INBOX_HANDLERS, INBOX_TOPIC_ORDER, ROOM_GROUP_HANDLERS
from evently.waiting_room.session_ends import (
    EndedSessionsPage,
    EndedSessionsQuery,
    ended_sessions,
)
from evently.waiting_room.status_tags import current_tag
from evently.waiting_room.stream import stream_status
from evently.waiting_room.visitors import join_room, room_view, visitor_status

api = Api("waiting_room")
ID = {"id": int}
IF_NONE_MATCH = Header(
    "If-None-Match", "The ETag of your last status; 304 when nothing changed since"
)

# Bookings sends a message per hold and per confirmation: a relay batch (200) is applied
# in one transaction, each run of booking.changed in one statement, so the room hears a
# sell-out promptly however busy its visitors keep it (docs/outbox.md); topic by topic,
# in the order the ticker locks rows (rooms.INBOX_TOPIC_ORDER).
INBOX_MESSAGES_PER_TRANSACTION = 200
add_inbox_route(
    api,
    "waiting_room",
    {**INBOX_HANDLERS, **PURCHASE_HANDLERS},
    per_transaction=INBOX_MESSAGES_PER_TRANSACTION,
    group_handlers={**PURCHASE_GROUP_HANDLERS, **ROOM_GROUP_HANDLERS},
    topic_order=INBOX_TOPIC_ORDER,
)
add_report_routes(api)


@api.get(
    "/api/v1/events/{id}/waiting-room",
    summary="An event's waiting room: phase, queue figures, seed commitment and seed",
    response=RoomOut,
    path_params=ID,
    errors=(404,),
)
async def get_room(request: web.Request, id: int) -> web.Response:
    return json_response(await room_view(request.app[WAITING_ROOM].pool, id))


@api.post(
    "/api/v1/events/{id}/waiting-room/join",
    summary="Join an event's waiting room (idempotent: one queue ticket per visitor)",
    description="Before the sale opens you join the pre-queue, placed by a seeded shuffle at "
    "opening; later you are placed first come, first served. Joining again returns the "
    "same ticket.",
    response=QueueTicketOut,
    auth=require_user,
    path_params=ID,
    errors=(404, 409),
)
async def join(request: web.Request, id: int) -> web.Response:
    room = request.app[WAITING_ROOM]
    status = await join_room(room.joins, room.keys, id, principal(request).user_id)
    room.versions.saw(id, status.room)
    return json_response(status.ticket, headers=_cache_headers(status.etag))


@api.get(
    "/api/v1/events/{id}/waiting-room/me",
    summary="Your place in an event's waiting room; your admission token once admitted",
    description="Poll it with If-None-Match: while nothing changed it answers 304 from memory.",
    response=QueueTicketOut,
    auth=require_user,
    path_params=ID,
    errors=(404,),
    headers=(IF_NONE_MATCH,),
    response_headers=(ETAG,),
    other_responses={304: None},
)
async def my_status(request: web.Request, id: int) -> web.Response:
    room = request.app[WAITING_ROOM]
    user_id = principal(request).user_id
    current = current_tag(request.headers.get("If-None-Match"), user_id, room.versions.snapshot(id))
    if current is not None:
        STATUS_POLLS.labels("not_modified").inc()
        return web.Response(status=304, headers=_cache_headers(current))
    STATUS_POLLS.labels("full").inc()
    return await _status_response(request, id, user_id)


async def _status_response(request: web.Request, event_id: int, user_id: int) -> web.Response:
    room = request.app[WAITING_ROOM]
    status = await visitor_status(room.pool, room.keys, event_id, user_id)
    room.versions.saw(event_id, status.room)
    return json_response(status.ticket, headers=_cache_headers(status.etag))


def _cache_headers(etag: str) -> dict[str, str]:
    # Private (it may carry the visitor's admission token), and always revalidated.
    headers = {"Cache-Control": "private, no-cache"}
    if etag:  # none for a sold-out join answered without a ticket
        headers["ETag"] = etag
    return headers


@api.get(
    "/api/v1/events/{id}/waiting-room/me/stream",
    summary="Your place in an event's waiting room as server-sent events",
    description="`status` events, each the same object as `GET .../waiting-room/me` with "
    "the room's state version as the SSE id, sent whenever your status changes (admission "
    "with its token, the event selling out, ...); heartbeat comments in between. With the "
    "If-None-Match of a status that is still current (the join's or a poll's ETag) the "
    "stream starts without repeating it. 404 before you join.",
    response={"type": "string"},
    response_content_type="text/event-stream",
    auth=require_user,
    path_params=ID,
    errors=(404, 503),
    headers=(IF_NONE_MATCH,),
)
async def my_status_stream(request: web.Request, id: int) -> web.StreamResponse:
    room = request.app[WAITING_ROOM]
    if room.streams is None:  # a context built without streams (never in the service)
        raise ServiceUnavailable("Status streams are not available here; poll instead.")
    return await stream_status(
        request,
        room.streams,
        id,
        principal(request).user_id,
        room.stream_heartbeat_s,
        request.app[SHUTTING_DOWN],
    )


@api.get(
    "/internal/waiting-room/ended-sessions",
    summary="Sessions ended before their admission token expired (for bookings)",
    description="Read with a keyset cursor: send the last page's `next` as `after`. Bookings "
    "refuses the tokens listed until they expire (docs/waiting-room.md).",
    query=EndedSessionsQuery,
    response=EndedSessionsPage,
    auth=require_internal,
)
async def list_ended_sessions(request: web.Request, query: EndedSessionsQuery) -> web.Response:
    page = await ended_sessions(request.app[WAITING_ROOM].pool, query.after, query.limit)
    return json_response(page)


@api.get(
    "/.well-known/admission-keys.json",
    summary="The public keys that verify admission tokens (JWKS)",
    response=JWKS_SCHEMA,
)
async def admission_keys(request: web.Request) -> web.Response:
    return json_response(request.app[WAITING_ROOM].keys.jwks())
