"""What the bookings handlers and background tasks share, built once per application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evently.bookings.admission import AdmissionGate
from evently.bookings.availability_stream import AvailabilityHub
from evently.bookings.confirmations import BookingConfirmer
from evently.bookings.holds import SeatHolder
from evently.bookings.inventory import InventoryPublisher
from evently.bookings.payment import PaymentProvider
from evently.bookings.seat_map_fetch import SeatMapFetcher
from evently.bookings.settings import BookingsSettings
from evently.bookings.ticket_issuer import TicketIssuer
from evently.bookings.verified_email import VerifiedEmailGate


@dataclass(frozen=True)
class BookingsContext:
    """The pool, settings, hot-path batchers, inventory publisher, streams hub, the
    ticket issuer, the public ticket keys check-in verifies codes with (by kid), the
    payment provider, the waiting room's admission gate, the verified-email gate and the
    seat map fetcher."""

    pool: asyncpg.Pool
    settings: BookingsSettings
    holder: SeatHolder
    confirmer: BookingConfirmer
    publisher: InventoryPublisher
    streams: AvailabilityHub
    tickets: TicketIssuer
    scan_keys: Mapping[str, Ed25519PublicKey]
    payments: PaymentProvider
    admission: AdmissionGate
    verified_email: VerifiedEmailGate
    seat_maps: SeatMapFetcher


BOOKINGS: web.AppKey[BookingsContext] = web.AppKey("bookings", BookingsContext)
