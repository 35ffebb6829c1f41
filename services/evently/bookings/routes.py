"""HTTP routes of the bookings service: thin handlers over the domain functions.

Each domain function returns a model of ``models.py``; ``json_response`` renders it.
"""

from __future__ import annotations

from aiohttp import web

from evently.bookings import (
    availability_stream,
    cancellations,
    checkin,
    checkin_list,
    idempotency,
    inventory,
    lookups,
    payment_intents,
    refunds,
    tickets,
    waitlist,
)
from evently.bookings.channels import check_channel_holder
from evently.bookings.context import BOOKINGS
from evently.bookings.models import (
    AvailabilityOut,
    BookingCreate,
    BookingListQuery,
    BookingOut,
    BookingPage,
    BookingTickets,
    ConfirmQuery,
    PageQuery,
    PaymentIntentOut,
    RefundOut,
    ScanIn,
    ScanOut,
    SignedCheckinList,
    WaitlistEntryOut,
    WaitlistJoin,
)
from evently.bookings.outcomes import Outcome
from evently.bookings.payment_fake import FakePaymentProvider
from evently.bookings.refusals import refuse
from evently.bookings.ticket_keys import TICKET_KEYS
from evently.bookings.ticket_qr import render_qr
from evently.core.admission_tokens import HEADER as ADMISSION_HEADER
from evently.core.api import Api, Header, json_response
from evently.core.auth import (
    principal,
    require_internal,
    require_permission,
    require_user,
)
from evently.core.db import POOL
from evently.core.errors import ValidationFailed
from evently.core.health import SHUTTING_DOWN
from evently.core.inbox import InboxAck, InboxBatch, apply_batch
from evently.core.net import address_bucket, client_address
from evently.core.seat_maps import LiveSeatStatus
from evently.core.settings import SETTINGS
from evently.core.signing_keys import JWKS_SCHEMA

api = Api("bookings")
ADMISSION_TOKEN_HEADER = Header(
    ADMISSION_HEADER,
    "The waiting room's admission token; required while the event's room is active "
    "(403 admission_required / admission_token_invalid / admission_ended)",
)
ID = {"id": int}
SEAT = {"id": int, "seat": int}


@api.post(
    "/api/v1/bookings",
    summary="Hold seats (requires an Idempotency-Key header)",
    description="Holds `quantity` seats (general admission) or, on a seated event, the "
    "seats `seat_ids` (409 seats_unavailable lists those already taken; 400 "
    "invalid_seats / event_not_seated name the field) or the best available `quantity` "
    "adjacent seats (optionally in `zone`, `accessible`; 409 no_seats_together) until "
    "the event's hold TTL passes; confirm to keep them. The same Idempotency-Key with the "
    "same body returns the stored response. An event with `require_verified_email` "
    "refuses a token without `email_verified` (403 email_verification_required). "
    "`channel` with `seat_ids` holds seats kept back for that channel: an admin or an "
    "account granted channels:hold or channels:hold:<channel> (else 403 "
    "channel_not_allowed; docs/seating.md).",
    body=BookingCreate,
    response=BookingOut,
    status=201,
    auth=require_user,
    errors=(400, 403, 404, 409, 422, 503),
    headers=(idempotency.KEY_HEADER, ADMISSION_TOKEN_HEADER),
    response_headers=(idempotency.REPLAYED_HEADER,),
)
async def create_booking(request: web.Request, body: BookingCreate) -> web.Response:
    key = idempotency.read_key(request)
    if problems := body.problems():
        raise ValidationFailed("The booking request is not valid.", errors=problems)
    user_id = principal(request).user_id
    context = request.app[BOOKINGS]
    if body.channel is not None:
        check_channel_holder(principal(request), body.channel)
    context.verified_email.check(principal(request), body.event_id)
    await context.admission.check(
        request.headers.get(ADMISSION_HEADER), user_id=user_id, event_id=body.event_id
    )
    hold = await context.holder.hold_seats(
        user_id=user_id,
        event_id=body.event_id,
        quantity=body.quantity,
        idempotency_key=key,
        request_hash=idempotency.request_hash(body.fingerprint()),
        client_address=address_bucket(
            client_address(request, request.app[SETTINGS].trusted_proxies)
        ),
        seat_ids=body.seat_ids,
        zone=body.zone,
        accessible=body.accessible,
        channel=body.channel,
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
    description="With `payment_intent_id`, the booking's payment intent must have been paid "
    "for its amount (402 payment_declined or payment_not_completed, 409 "
    "payment_intent_mismatch otherwise); without it, confirming is the paid signal "
    "(free events, the demo). docs/payments.md.",
    query=ConfirmQuery,
    response=BookingOut,
    auth=require_user,
    path_params=ID,
    errors=(402, 409, 503),
)
async def confirm_booking(request: web.Request, id: int, query: ConfirmQuery) -> web.Response:
    confirmed = await request.app[BOOKINGS].confirmer.confirm_booking(
        booking_id=id,
        user_id=principal(request).user_id,
        payment_intent_id=query.payment_intent_id,
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


@api.get(
    "/api/v1/bookings/{id}/tickets",
    summary="The booking's tickets, one per seat (issued now if still missing)",
    description="Each ticket's `code` is signed with a ticket key and verifies offline "
    "against `/.well-known/ticket-keys.json` (docs/tickets.md). A held or expired booking "
    "has none (409 booking_not_confirmed); a cancelled one shows its void tickets.",
    response=BookingTickets,
    auth=require_user,
    path_params=ID,
    errors=(409,),
)
async def list_booking_tickets(request: web.Request, id: int) -> web.Response:
    booking_tickets = await tickets.booking_tickets(
        request.app[BOOKINGS], booking_id=id, viewer=principal(request)
    )
    return json_response(booking_tickets)


async def _ticket_qr(request: web.Request, id: int, seat: int, kind: str) -> web.Response:
    code = await tickets.valid_ticket_code(
        request.app[BOOKINGS], booking_id=id, seat=seat, viewer=principal(request)
    )
    content_type = {"svg": "image/svg+xml", "png": "image/png"}[kind]
    # A ticket is a credential: no shared cache may keep its image.
    return web.Response(
        body=render_qr(code, kind),
        content_type=content_type,
        headers={"Cache-Control": "private, no-store"},
    )


@api.get(
    "/api/v1/bookings/{id}/tickets/{seat}.svg",
    summary="A valid ticket's QR code as SVG",
    response={"type": "string"},
    response_content_type="image/svg+xml",
    auth=require_user,
    path_params=SEAT,
    errors=(409,),
)
async def ticket_qr_svg(request: web.Request, id: int, seat: int) -> web.Response:
    return await _ticket_qr(request, id, seat, "svg")


@api.get(
    "/api/v1/bookings/{id}/tickets/{seat}.png",
    summary="A valid ticket's QR code as PNG",
    response={"type": "string", "format": "binary"},
    response_content_type="image/png",
    auth=require_user,
    path_params=SEAT,
    errors=(409,),
)
async def ticket_qr_png(request: web.Request, id: int, seat: int) -> web.Response:
    return await _ticket_qr(request, id, seat, "png")


@api.get(
    "/.well-known/ticket-keys.json",
    summary="The public keys that verify ticket codes",
    description="A JWKS of Ed25519 (OKP) keys; scanners cache it and verify codes offline.",
    response=JWKS_SCHEMA,
    tags=("tickets",),
)
async def ticket_keys(request: web.Request) -> web.Response:
    return json_response(request.app[TICKET_KEYS].jwks(), headers={"Cache-Control": "max-age=60"})


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


@api.post(
    "/api/v1/events/{id}/checkin/scans",
    summary="Scan a ticket code at a gate of the event (staff with checkin:scan)",
    description="Verifies the code's signature, then checks the ticket in unless a scan "
    "did before: of concurrent scans of one ticket, on any replica, exactly one answers "
    "`valid`. Every answer is 200 with a `result` (docs/checkin.md); an unreadable, "
    "forged or unknown code is `invalid`.",
    body=ScanIn,
    response=ScanOut,
    auth=require_permission(checkin.SCAN_PERMISSION),
    path_params=ID,
    tags=("checkin",),
)
async def scan_ticket(request: web.Request, id: int, body: ScanIn) -> web.Response:
    answer = await checkin.scan_ticket(
        request.app[BOOKINGS],
        event_id=id,
        code=body.code,
        gate=body.gate,
        staff=principal(request),
    )
    return json_response(answer)


@api.get(
    "/api/v1/events/{id}/checkin/list",
    summary="The event's signed offline check-in list (staff with checkin:scan)",
    description="Every ticket of the event with its code, status and check-in state, "
    "signed by a ticket key: a gate with no network verifies it against "
    "`/.well-known/ticket-keys.json` (docs/checkin.md) and scans from it.",
    response=SignedCheckinList,
    auth=require_permission(checkin.SCAN_PERMISSION),
    path_params=ID,
    tags=("checkin",),
)
async def download_checkin_list(request: web.Request, id: int) -> web.Response:
    body = await checkin_list.signed_checkin_list(request.app[BOOKINGS], event_id=id)
    # The codes are credentials: no shared cache may keep them.
    return json_response(body, headers={"Cache-Control": "private, no-store"})


@api.get(
    "/api/v1/events/{id}/availability/stream",
    summary="Live availability as server-sent events (`availability` events, heartbeats)",
    description="Every message is `event: availability` with the event's counts "
    "(`inventory.changed`'s fields). On a seated event the first message also carries "
    '`seats: {"snapshot": true, "held": [ids], "sold": [ids], "blocked": [ids], '
    '"kept_back"?: [ids]}` (every other seat is free; kept_back: kept back for a channel, '
    'not for public sale) and each later one `seats: {"held"?, "sold"?, "free"?, '
    '"kept_back"?}`, the seats whose status changed since the message before '
    "(docs/seating.md). `available` and `sold_out` leave kept-back seats out.",
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
    seated = await inventory.is_seated(ctx.pool, id)
    return await availability_stream.stream_availability(
        request,
        ctx.streams,
        state,
        ctx.settings.sse_heartbeat_s,
        request.app[SHUTTING_DOWN],
        seated,
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
    "/internal/events/{id}/seats",
    summary="A seated event's seats that are not free now (for the events service's SVG)",
    response=LiveSeatStatus,
    auth=require_internal,
    path_params=ID,
    errors=(404,),
)
async def internal_seat_status(request: web.Request, id: int) -> web.Response:
    seats = await inventory.read_live_seat_status(request.app[BOOKINGS].pool, id)
    if seats is None:
        raise refuse(Outcome.EVENT_NOT_FOUND)
    return json_response(seats)


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


# POST /internal/inbox: the events service's event.changed messages feed the inventory;
# the handler is bound to this app's seat map fetcher (which `add_inbox_route`'s
# module-level handlers could not reach).
@api.post(
    "/internal/inbox",
    summary="Receive event.changed messages (at-least-once, idempotent)",
    body=InboxBatch,
    response=InboxAck,
    auth=require_internal,
)
async def receive_outbox_messages(request: web.Request, body: InboxBatch) -> web.Response:
    handlers = inventory.inbox_handlers(request.app[BOOKINGS].seat_maps)
    acknowledged = await apply_batch(request.app[POOL], "bookings", handlers, body)
    return json_response(InboxAck(acknowledged=acknowledged))


@api.get(
    "/api/v1/bookings/{id}/refund",
    summary="The refund of a cancelled paid booking (its owner, or an admin)",
    description="Created when a paid booking is cancelled (by its owner, or because the "
    "event was cancelled); `status` goes from pending to succeeded or failed "
    "(docs/payments.md). A booking without one answers 404 refund_not_found.",
    response=RefundOut,
    auth=require_user,
    path_params=ID,
)
async def get_booking_refund(request: web.Request, id: int) -> web.Response:
    refund = await refunds.booking_refund(
        request.app[BOOKINGS], booking_id=id, viewer=principal(request)
    )
    return json_response(refund)


@api.post(
    "/api/v1/payments/webhooks",
    summary="Payment provider notifications (signed; idempotent)",
    description="Called by the payment provider, not by customers: the body is verified "
    "against the provider's signature header (HMAC-SHA256 with a timestamp tolerance); a "
    "settled refund is recorded once, a redelivery changes nothing (docs/payments.md).",
    response=refunds.WebhookReceipt,
    errors=(400,),
    headers=(Header(FakePaymentProvider.signature_header, "t=<unix seconds>,v1=<hex HMAC>"),),
    tags=("payments",),
)
async def receive_payment_webhook(request: web.Request) -> web.Response:
    ctx = request.app[BOOKINGS]
    receipt = await refunds.apply_payment_webhook(
        ctx, await request.read(), request.headers.get(ctx.payments.signature_header)
    )
    return json_response(receipt)


@api.post(
    "/api/v1/bookings/{id}/payment-intent",
    summary="The payment intent of a held booking (created once, for its amount)",
    description="Idempotent: asking again returns the same intent (the provider's key is "
    "the booking). Pay it with the provider, then confirm with `payment_intent_id`. "
    "409 booking_not_payable unless held, payment_not_required for a free booking; 503 "
    "payment_provider_unavailable if the provider does not answer. docs/payments.md.",
    response=PaymentIntentOut,
    auth=require_user,
    path_params=ID,
    errors=(409, 503),
    tags=("bookings", "payments"),
)
async def create_payment_intent(request: web.Request, id: int) -> web.Response:
    ctx = request.app[BOOKINGS]
    intent = await payment_intents.create_payment_intent(
        ctx.pool,
        ctx.payments,
        ctx.settings.payment_timeout_s,
        booking_id=id,
        user_id=principal(request).user_id,
    )
    return json_response(intent)
