"""The users service's Ed25519 signing keys: loading, choosing the active one, the JWKS.

Keys come from ``JWT_SIGNING_KEYS`` (JSON ``{"<kid>": "<PEM>"}``) or from
``JWT_SIGNING_KEYS_DIR`` (one ``<kid>.pem`` per key, e.g. a mounted Kubernetes Secret).
Every key is published in the JWKS and verifies tokens; only the active one signs.
Rotation (docs/auth.md): publish a new key, make it active, then retire the old one
once the access-token lifetime has passed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evently.core.settings import SettingsError
from evently.users.settings import UsersSettings

ALGORITHM = "EdDSA"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class SigningKey:
    """One named Ed25519 key pair."""

    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class KeyRing:
    """Every configured key (all verify) and the one that signs new tokens."""

    keys: tuple[SigningKey, ...]
    active: SigningKey

    def jwks(self) -> dict[str, Any]:
        """The public JSON Web Key Set, active key first."""
        ordered = [self.active, *(k for k in self.keys if k.kid != self.active.kid)]
        return {"keys": [key.public_jwk() for key in ordered]}


KEYRING: web.AppKey[KeyRing] = web.AppKey("keyring", KeyRing)


def parse_private_key(kid: str, pem: str, source: str) -> SigningKey:
    """A ``SigningKey`` from PEM text; ``source`` names where it came from in errors."""
    if not _KID.match(kid):
        raise SettingsError([f"{source}: key id {kid!r} must match {_KID.pattern}"])
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError([f"{source}: key {kid!r} is not an unencrypted PEM key"]) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError([f"{source}: key {kid!r} is not an Ed25519 private key"])
    return SigningKey(kid, key)


def _keys_from_json(raw: str) -> list[SigningKey]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError([f"JWT_SIGNING_KEYS is not valid JSON: {exc.msg}"]) from exc
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise SettingsError(['JWT_SIGNING_KEYS must be a JSON object {"<kid>": "<PEM>", ...}'])
    return [parse_private_key(kid, pem, "JWT_SIGNING_KEYS") for kid, pem in document.items()]


def _keys_from_directory(directory: str) -> list[SigningKey]:
    folder = Path(directory)
    if not folder.is_dir():
        raise SettingsError([f"JWT_SIGNING_KEYS_DIR={directory!r} is not a directory"])
    # glob("*.pem") skips the hidden ..data entries Kubernetes puts in Secret volumes.
    return [
        parse_private_key(path.stem, path.read_text(), f"JWT_SIGNING_KEYS_DIR ({path.name})")
        for path in sorted(folder.glob("*.pem"))
    ]


def load_keyring(settings: UsersSettings) -> KeyRing:
    """Load the configured keys and pick the active one; raise ``SettingsError`` if unusable."""
    if bool(settings.jwt_signing_keys) == bool(settings.jwt_signing_keys_dir):
        raise SettingsError(
            [
                "set exactly one of JWT_SIGNING_KEYS (JSON of kid -> PEM) or "
                "JWT_SIGNING_KEYS_DIR (a directory of <kid>.pem files)"
            ]
        )
    if settings.jwt_signing_keys_dir:
        keys = _keys_from_directory(settings.jwt_signing_keys_dir)
        source = "JWT_SIGNING_KEYS_DIR"
    else:
        keys = _keys_from_json(settings.jwt_signing_keys)
        source = "JWT_SIGNING_KEYS"
    if not keys:
        raise SettingsError([f"{source} holds no signing key"])
    by_kid = {key.kid: key for key in keys}
    if settings.jwt_active_kid:
        active = by_kid.get(settings.jwt_active_kid)
        if active is None:
            raise SettingsError(
                [f"JWT_ACTIVE_KID={settings.jwt_active_kid!r} is not one of {sorted(by_kid)}"]
            )
    elif len(keys) == 1:
        active = keys[0]
    else:
        raise SettingsError(
            [f"JWT_ACTIVE_KID is required when {source} holds several keys ({sorted(by_kid)})"]
        )
    return KeyRing(tuple(keys), active)


def private_key_pem(key: Ed25519PrivateKey) -> str:
    """PKCS#8 PEM text of ``key``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_kid(now: dt.datetime | None = None) -> str:
    """A date-stamped key id such as ``2025-07-01-1a2b``: sorts by creation, stays unique."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y-%m-%d}-{secrets.token_hex(2)}"


def generate_signing_keys_json() -> str:
    """A fresh ``JWT_SIGNING_KEYS`` value holding one new key (``evently up`` dev secret)."""
    return json.dumps({new_kid(): private_key_pem(Ed25519PrivateKey.generate())})
