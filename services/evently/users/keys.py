"""The users service's signing keys: the ``JWT_*`` key set (``core/signing_keys.py``).

Keys come from ``JWT_SIGNING_KEYS`` (JSON ``{"<kid>": "<PEM>"}``) or from
``JWT_SIGNING_KEYS_DIR`` (one ``<kid>.pem`` per key, e.g. a mounted Kubernetes Secret).
Every key is published in the JWKS and verifies tokens; only the active one signs.
Rotation (docs/auth.md): publish a new key, make it active, then retire the old one
once the access-token lifetime has passed.
"""

from __future__ import annotations

from aiohttp import web

from evently.core.signing_keys import (
    ALGORITHM,
    KeyRing,
    KeySetVariables,
    SigningKey,
    generate_signing_keys_json,
    load_key_ring,
    private_key_pem,
)
from evently.users.settings import UsersSettings

__all__ = [
    "ALGORITHM",
    "JWT_KEY_VARIABLES",
    "KEYRING",
    "KeyRing",
    "SigningKey",
    "generate_signing_keys_json",
    "load_keyring",
    "private_key_pem",
]

JWT_KEY_VARIABLES = KeySetVariables("JWT_SIGNING_KEYS", "JWT_SIGNING_KEYS_DIR", "JWT_ACTIVE_KID")
KEYRING: web.AppKey[KeyRing] = web.AppKey("keyring", KeyRing)


def load_keyring(settings: UsersSettings) -> KeyRing:
    """Load the token signing keys and pick the active one; raise ``SettingsError`` if
    unusable."""
    return load_key_ring(
        JWT_KEY_VARIABLES,
        keys_json=settings.jwt_signing_keys,
        keys_dir=settings.jwt_signing_keys_dir,
        active_kid=settings.jwt_active_kid,
    )
