"""The bookings service definition and its background wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from evently.bookings.admission import AdmissionGate
from evently.bookings.availability_stream import AvailabilityHub
from evently.bookings.confirmations import BookingConfirmer
from evently.bookings.context import BOOKINGS, BookingsContext
from evently.bookings.ended_admissions import EndedAdmissions
from evently.bookings.event_cancellation import EventCanceller
from evently.bookings.expiry import ExpirySweeper
from evently.bookings.holds import SeatHolder
from evently.bookings.inventory import InventoryPublisher
from evently.bookings.metrics import INVENTORY_GAUGES
from evently.bookings.payment import PaymentProvider
from evently.bookings.payment_fake import FakePaymentProvider
from evently.bookings.refunds import RefundWorker
from evently.bookings.relay import bookings_relay
from evently.bookings.routes import api
from evently.bookings.seat_map_fetch import SeatMapFetcher
from evently.bookings.settings import BookingsSettings
from evently.bookings.ticket_codes import public_keys_from_jwks
from evently.bookings.ticket_issuer import IssuePolicy, TicketIssuer
from evently.bookings.ticket_keys import TICKET_KEYS, load_ticket_keys
from evently.bookings.verified_email import VerifiedEmailGate
from evently.core.app import ServiceDefinition
from evently.core.auth import JwksCache, http_jwks
from evently.core.clients import HTTP_SESSION, InternalClient
from evently.core.db import POOL, keep_session_state
from evently.core.signing_keys import generate_signing_keys_json
from evently.core.tasks import background_task, every


def setup(app: web.Application, settings: Any) -> None:
    """Ticket keys (failing fast if unusable), the shared context, then the background
    tasks: expiry, publishing, ticket issuing, refunds, event cancellation, the outbox
    relay."""
    app[TICKET_KEYS] = load_ticket_keys(settings)
    INVENTORY_GAUGES.limit = settings.inventory_gauge_events
    app.cleanup_ctx.append(_context(settings))
    app.cleanup_ctx.append(
        background_task("bookings-expiry", lambda a: _sweep_forever(a, settings))
    )
    app.cleanup_ctx.append(
        background_task("bookings-inventory-publisher", lambda a: a[BOOKINGS].publisher.run())
    )
    app.cleanup_ctx.append(
        background_task("bookings-ticket-issuer", lambda a: a[BOOKINGS].tickets.run())
    )
    app.cleanup_ctx.append(
        background_task("bookings-refunds", lambda a: _refund_forever(a, settings))
    )
    app.cleanup_ctx.append(
        background_task(
            "bookings-event-cancellation", lambda a: _cancel_events_forever(a, settings)
        )
    )
    app.cleanup_ctx.append(
        background_task(
            "bookings-admission-gate",
            lambda a: every(
                settings.admission_refresh_s, a[BOOKINGS].admission.reload, "admission-gate"
            ),
        )
    )
    app.cleanup_ctx.append(
        background_task(
            "bookings-verified-email-gate",
            lambda a: every(
                settings.verified_email_refresh_s,
                a[BOOKINGS].verified_email.reload,
                "verified-email-gate",
            ),
        )
    )
    if settings.outbox_relay_enabled:
        app.cleanup_ctx.append(background_task("bookings-outbox-relay", _relay(settings)))


def _ended_admissions(app: web.Application, settings: BookingsSettings) -> EndedAdmissions:
    """Sessions the room ended early, read from its internal API (``WAITING_ROOM_URL``)."""

    async def fetch(path: str) -> tuple[int, Any]:
        room = InternalClient(
            app[HTTP_SESSION], settings.waiting_room_url, settings.internal_api_key, "waiting_room"
        )
        return await room.get(path)

    return EndedAdmissions(fetch)


def _context(settings: BookingsSettings) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = app[POOL]
        streams = AvailabilityHub(settings.database_url, settings.sse_max_subscribers, pool)
        publisher = InventoryPublisher(pool, settings)
        tickets = TicketIssuer(
            pool,
            app[TICKET_KEYS],
            IssuePolicy(
                quiet_s=settings.ticket_issue_quiet_s,
                max_delay_s=settings.ticket_issue_max_delay_s,
                batch_size=settings.ticket_issue_batch_size,
            ),
        )
        payments = payment_provider(settings)
        admission = AdmissionGate(
            pool,
            JwksCache(http_jwks(lambda: app[HTTP_SESSION], settings.effective_admission_keys_url)),
            _ended_admissions(app, settings),
        )
        await admission.reload()  # before the first hold
        verified_email = VerifiedEmailGate(pool)
        await verified_email.reload()
        seat_maps = SeatMapFetcher(
            pool, lambda: app[HTTP_SESSION], settings.events_url, settings.internal_api_key
        )
        app[BOOKINGS] = BookingsContext(
            pool=pool,
            settings=settings,
            holder=SeatHolder(pool, settings, publisher),
            confirmer=BookingConfirmer(pool, settings, publisher, tickets, payments),
            publisher=publisher,
            streams=streams,
            tickets=tickets,
            # What a scanner loads: the published key set, public keys only.
            scan_keys=public_keys_from_jwks(app[TICKET_KEYS].jwks()),
            payments=payments,
            admission=admission,
            verified_email=verified_email,
            seat_maps=seat_maps,
        )
        try:
            yield
        finally:
            await streams.close()
            await tickets.close()

    return ctx


async def _sweep_forever(app: web.Application, settings: BookingsSettings) -> None:
    sweeper = ExpirySweeper(app[BOOKINGS])
    await every(settings.expiry_interval_s, sweeper.step, "bookings-expiry")


def payment_provider(settings: BookingsSettings) -> PaymentProvider:
    """The provider ``PAYMENT_PROVIDER`` names (only ``fake`` exists: docs/payments.md)."""
    if settings.payment_provider == "fake":
        return FakePaymentProvider(webhook_secret=settings.payment_webhook_secret or None)
    raise ValueError(f"unknown payment provider {settings.payment_provider!r}")


async def _refund_forever(app: web.Application, settings: BookingsSettings) -> None:
    worker = RefundWorker(app[BOOKINGS])
    await every(settings.refund_interval_s, worker.step, "bookings-refunds")


async def _cancel_events_forever(app: web.Application, settings: BookingsSettings) -> None:
    canceller = EventCanceller(app[BOOKINGS])
    await every(settings.event_cancel_interval_s, canceller.step, "bookings-event-cancellation")


def _relay(settings: BookingsSettings) -> Any:
    async def run(app: web.Application) -> None:
        await bookings_relay(settings, lambda: app[HTTP_SESSION]).run()

    return run


SERVICE = ServiceDefinition(
    name="bookings",
    schema="bookings",
    settings_class=BookingsSettings,
    api=api,
    description="Holds, confirmations, cancellations, signed tickets, the waitlist and live "
    "availability: never oversell.",
    setup=setup,
    # Pooled connections carry no session state here (locks are transaction-scoped,
    # lock_timeout is SET LOCAL, LISTEN has its own connection): skip the reset query.
    pool_options={"reset": keep_session_state},
    dev_secrets={"TICKET_SIGNING_KEYS": generate_signing_keys_json},
)
