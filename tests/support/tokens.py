"""Real signed access tokens for tests of services other than users.

The users service mints tokens in production; here a test key pair plays its part so a
service under test verifies genuine EdDSA JWTs through the same ``Authenticator``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evently.core.auth import AUDIENCE, ISSUER, Authenticator, JwksCache, static_jwks

ADMIN_PERMISSIONS = ("events:write", "analytics:read", "bookings:read", "users:admin")


class TokenMinter:
    """Signs access tokens with a fresh Ed25519 key and publishes its JWKS."""

    def __init__(self, kid: str = "test-key-1") -> None:
        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def authenticator(self) -> Authenticator:
        return Authenticator(JwksCache(static_jwks(self.jwks())))

    def token(
        self,
        user_id: int,
        *,
        email: str | None = None,
        roles: tuple[str, ...] = ("customer",),
        perms: tuple[str, ...] = (),
        ttl_s: int = 900,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "email": email or f"user{user_id}@example.com",
            "roles": list(roles),
            "perms": list(perms),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
            "typ": "access",
            **claims,
        }
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def customer(self, user_id: int = 1001) -> dict[str, str]:
        """Authorization header of a customer."""
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def admin(self, user_id: int = 1) -> dict[str, str]:
        """Authorization header of an admin holding every permission."""
        token = self.token(user_id, roles=("admin",), perms=ADMIN_PERMISSIONS)
        return {"Authorization": f"Bearer {token}"}
