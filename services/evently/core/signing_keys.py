"""Ed25519 key sets: loading them from settings, choosing the active key, the JWKS.

A key set is configured by three variables, named per use (``KeySetVariables``): a
JSON object ``{"<kid>": "<PEM>"}``, or a directory of ``<kid>.pem`` files (e.g. a
mounted Kubernetes Secret), and the kid of the key that signs. Every key of the set is
published in its JWKS and verifies; only the active one signs. The users service signs
access tokens with one set (``JWT_*``), the bookings service signs tickets with another
(``TICKET_*``).
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evently.core.settings import SettingsError

ALGORITHM = "EdDSA"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The OpenAPI schema of a published key set.
JWKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "kid", "alg"],
                "properties": {
                    "kty": {"type": "string"},
                    "crv": {"type": "string"},
                    "x": {"type": "string"},
                    "kid": {"type": "string"},
                    "alg": {"type": "string"},
                    "use": {"type": "string"},
                },
            },
        }
    },
}


@dataclass(frozen=True)
class KeySetVariables:
    """The names of the three settings that configure one key set (used in errors)."""

    keys: str
    keys_dir: str
    active_kid: str


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
    """Every configured key (all verify) and the one that signs."""

    keys: tuple[SigningKey, ...]
    active: SigningKey

    def jwks(self) -> dict[str, Any]:
        """The public JSON Web Key Set, active key first."""
        ordered = [self.active, *(k for k in self.keys if k.kid != self.active.kid)]
        return {"keys": [key.public_jwk() for key in ordered]}


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


def _keys_from_json(raw: str, variable: str) -> list[SigningKey]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError([f"{variable} is not valid JSON: {exc.msg}"]) from exc
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise SettingsError([f'{variable} must be a JSON object {{"<kid>": "<PEM>", ...}}'])
    return [parse_private_key(kid, pem, variable) for kid, pem in document.items()]


def _keys_from_directory(directory: str, variable: str) -> list[SigningKey]:
    folder = Path(directory)
    if not folder.is_dir():
        raise SettingsError([f"{variable}={directory!r} is not a directory"])
    # glob("*.pem") skips the hidden ..data entries Kubernetes puts in Secret volumes.
    return [
        parse_private_key(path.stem, path.read_text(), f"{variable} ({path.name})")
        for path in sorted(folder.glob("*.pem"))
    ]


def load_key_ring(
    names: KeySetVariables, *, keys_json: str, keys_dir: str, active_kid: str
) -> KeyRing:
    """Load a key set from its settings' values and pick the active key; raise
    ``SettingsError`` (naming the variables) if it is unusable."""
    if bool(keys_json) == bool(keys_dir):
        raise SettingsError(
            [
                f"set exactly one of {names.keys} (JSON of kid -> PEM) or "
                f"{names.keys_dir} (a directory of <kid>.pem files)"
            ]
        )
    if keys_dir:
        keys = _keys_from_directory(keys_dir, names.keys_dir)
        source = names.keys_dir
    else:
        keys = _keys_from_json(keys_json, names.keys)
        source = names.keys
    if not keys:
        raise SettingsError([f"{source} holds no signing key"])
    by_kid = {key.kid: key for key in keys}
    if active_kid:
        active = by_kid.get(active_kid)
        if active is None:
            raise SettingsError(
                [f"{names.active_kid}={active_kid!r} is not one of {sorted(by_kid)}"]
            )
    elif len(keys) == 1:
        active = keys[0]
    else:
        raise SettingsError(
            [f"{names.active_kid} is required when {source} holds several keys ({sorted(by_kid)})"]
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
    """A fresh key set value (JSON) holding one new key: a dev secret of ``evently up``."""
    return json.dumps({new_kid(): private_key_pem(Ed25519PrivateKey.generate())})
