"""HTTP routes of the notifications service: the inbox the outboxes deliver to, and each
user's notification stream."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import Api, Header
from evently.core.auth import principal, require_user
from evently.core.health import SHUTTING_DOWN
from evently.core.inbox import add_inbox_route
from evently.notifications.context import NOTIFICATIONS
from evently.notifications.messages import INBOX_HANDLERS
from evently.notifications.user_stream import stream_notifications

api = Api("notifications")
LAST_EVENT_ID = Header(
    "Last-Event-ID", "The id of the last notification received; the stream resumes after it"
)

add_inbox_route(api, "notifications", INBOX_HANDLERS)


@api.get(
    "/api/v1/notifications/stream",
    summary="Your notifications as server-sent events (waitlist offers, booking changes)",
    description="Events `booking.changed`, `waitlist.changed` and `event.changed`, each "
    "`{type, at, data}` with the notification id as the SSE id; reconnect with "
    "`Last-Event-ID` to get what you missed (kept a day). Heartbeat comments in between.",
    response={"type": "string"},
    response_content_type="text/event-stream",
    auth=require_user,
    headers=(LAST_EVENT_ID,),
    errors=(503,),
)
async def stream_my_notifications(request: web.Request) -> web.StreamResponse:
    ctx = request.app[NOTIFICATIONS]
    return await stream_notifications(
        request,
        ctx.pool,
        ctx.streams,
        principal(request).user_id,
        ctx.settings.stream_heartbeat_s,
        request.app[SHUTTING_DOWN],
    )
