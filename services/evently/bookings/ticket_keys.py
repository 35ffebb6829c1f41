"""The bookings service's ticket signing keys: the ``TICKET_*`` key set.

Its own set, not the users service's token keys: a ticket outlives any access token,
and a scanner trusts only ticket keys (``/.well-known/ticket-keys.json``). Rotation
(docs/tickets.md): publish a new key, make it active, and keep the old one published
while tickets it signed may still be scanned.
"""

from __future__ import annotations

from aiohttp import web

from evently.bookings.settings import BookingsSettings
from evently.core.signing_keys import KeyRing, KeySetVariables, load_key_ring

TICKET_KEY_VARIABLES = KeySetVariables(
    "TICKET_SIGNING_KEYS", "TICKET_SIGNING_KEYS_DIR", "TICKET_ACTIVE_KID"
)
TICKET_KEYS: web.AppKey[KeyRing] = web.AppKey("ticket_keys", KeyRing)


def load_ticket_keys(settings: BookingsSettings) -> KeyRing:
    """Load the ticket keys and pick the active one; raise ``SettingsError`` if unusable."""
    return load_key_ring(
        TICKET_KEY_VARIABLES,
        keys_json=settings.ticket_signing_keys,
        keys_dir=settings.ticket_signing_keys_dir,
        active_kid=settings.ticket_active_kid,
    )
