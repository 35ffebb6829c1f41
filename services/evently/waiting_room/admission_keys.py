"""The waiting room's admission token keys: the ``ADMISSION_*`` key set.

A set of its own: bookings trusts it for nothing but admission (its public keys are at
``/.well-known/admission-keys.json``). Rotation works as for ticket keys (docs/tickets.md).
"""

from __future__ import annotations

from aiohttp import web

from evently.core.admission_tokens import ADMISSION_KEY_VARIABLES
from evently.core.signing_keys import KeyRing, load_key_ring
from evently.waiting_room.settings import WaitingRoomSettings

ADMISSION_KEYS: web.AppKey[KeyRing] = web.AppKey("admission_keys", KeyRing)


def load_admission_keys(settings: WaitingRoomSettings) -> KeyRing:
    """Load the admission keys and pick the active one; raise ``SettingsError`` if unusable."""
    return load_key_ring(
        ADMISSION_KEY_VARIABLES,
        keys_json=settings.admission_signing_keys,
        keys_dir=settings.admission_signing_keys_dir,
        active_kid=settings.admission_active_kid,
    )
