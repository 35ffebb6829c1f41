"""Verifying who is calling: JWT access tokens and the internal API key.

Only the users service holds private keys and mints tokens. Every other service
verifies access tokens locally against the users service's public JWKS
(``/.well-known/jwks.json``), cached and refetched when an unknown ``kid`` appears.

Token contract (see docs/auth.md):

* header: ``alg`` = ``EdDSA`` (or ``RS256``), ``kid`` naming a published key;
* claims: ``iss`` = ``evently-users``, ``aud`` = ``evently``, ``sub`` = user id,
  ``email``, ``email_verified``, ``roles``, ``perms``, ``iat``, ``nbf``, ``exp``, ``jti``,
  ``typ`` = ``access``. ``email_verified`` is as of minting: a token minted before the
  user verified says false until the client refreshes it (at most ``ACCESS_TOKEN_TTL_S``).

Guards (``auth=`` on an endpoint): ``require_user``, ``require_admin(permission)``,
``require_permission(permission)`` (admins and staff), ``require_internal``. A verified
caller is ``request[PRINCIPAL]`` (or ``principal(request)``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from aiohttp import web

from evently.core.errors import Forbidden, ServiceUnavailable, Unauthorized
from evently.core.settings import SETTINGS

log = logging.getLogger("evently.auth")

ISSUER = "evently-users"
AUDIENCE = "evently"
ALLOWED_ALGORITHMS = ("EdDSA", "RS256")
INTERNAL_KEY_HEADER = "X-Internal-Key"


# Permissions an admin may grant to an account that is not an admin (door staff scan
# tickets and do nothing else); any other permission in a non-admin's token is ignored.
# ``channels:hold`` names every channel; ``channels:hold:<channel>`` one (a slug).
STAFF_PERMISSIONS = frozenset({"checkin:scan", "channels:hold"})
STAFF_PERMISSION_PATTERNS = (re.compile(r"channels:hold:[A-Za-z0-9][A-Za-z0-9_.-]{0,39}"),)


def is_staff_permission(permission: str) -> bool:
    """Whether an admin may grant ``permission`` to an account that is not an admin."""
    return permission in STAFF_PERMISSIONS or any(
        pattern.fullmatch(permission) for pattern in STAFF_PERMISSION_PATTERNS
    )


@dataclass(frozen=True)
class Principal:
    """The verified caller of a request."""

    user_id: int
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    token_id: str | None = None
    # The ``email_verified`` claim (absent: False), as of when the token was minted.
    email_verified: bool = False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def can(self, permission: str) -> bool:
        """An admin can do what its permissions name (``*``: everything); anyone else
        only the staff permissions (``is_staff_permission``) an admin granted it."""
        if self.is_admin:
            return permission in self.permissions or "*" in self.permissions
        return is_staff_permission(permission) and permission in self.permissions

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            user_id=int(claims["sub"]),
            email=str(claims.get("email", "")),
            roles=frozenset(claims.get("roles", [])),
            permissions=frozenset(claims.get("perms", [])),
            token_id=claims.get("jti"),
            email_verified=claims.get("email_verified") is True,
        )


JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


class JwksCache:
    """Public keys by ``kid``; refreshed every ``ttl_s`` and on an unknown ``kid``
    (at most once per ``min_refetch_s``, so forged kids cannot hammer the users service).

    A failed fetch keeps the keys it had and is also throttled: while the users service
    is down, requests fail fast (or verify against the cached keys) instead of queueing
    behind one fetch timeout after another."""

    def __init__(self, fetch: JwksFetcher, ttl_s: float = 300.0, min_refetch_s: float = 5.0):
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._last_attempt_ok = False
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._attempted_at < self._min_refetch_s:
                return
            self._attempted_at = time.monotonic()
            self._last_attempt_ok = False
            try:
                document = await self._fetch()
            except Exception as exc:
                log.warning("could not fetch JWKS: %s", exc)
                return
            if not isinstance(document, dict):
                log.warning("ignoring a JWKS that is not a JSON object")
                return
            self._last_attempt_ok = True
            keys = {}
            for entry in document.get("keys", []):
                kid = entry.get("kid")
                if not kid or entry.get("alg") not in ALLOWED_ALGORITHMS:
                    continue
                try:
                    keys[kid] = jwt.PyJWK(entry)
                except jwt.PyJWKError as exc:
                    log.warning("ignoring unusable JWK %s: %s", kid, exc)
            self._keys = keys
            self._fetched_at = time.monotonic()

    @property
    def ever_fetched(self) -> bool:
        """Whether a key set was ever fetched (False while the users service is unreachable)."""
        return self._fetched_at != float("-inf")

    async def reachable(self) -> bool:
        """Whether the key set can be fetched: refetch it (throttled like an unknown kid,
        so the answer is at most ``min_refetch_s`` old) and report that attempt."""
        await self._refresh()
        return self._last_attempt_ok

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for ``kid``, refetching the set if it is stale or lacks ``kid``."""
        if time.monotonic() - self._fetched_at > self._ttl_s or kid not in self._keys:
            await self._refresh()
        return self._keys.get(kid)


def static_jwks(document: dict[str, Any]) -> JwksFetcher:
    """A fetcher returning a fixed key set (the users service uses its own keys)."""

    async def fetch() -> dict[str, Any]:
        return document

    return fetch


def http_jwks(session_getter: Callable[[], aiohttp.ClientSession], url: str) -> JwksFetcher:
    """A fetcher reading the key set from ``url``."""

    async def fetch() -> dict[str, Any]:
        async with session_getter().get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
            response.raise_for_status()
            return await response.json()

    return fetch


class Authenticator:
    """Verifies access tokens against a ``JwksCache``.

    Verified claims are remembered per token string (at most ``cache_size`` tokens, least
    recently used out first) until the token expires: a client sends the same token with
    every request, and checking an Ed25519 signature costs far more than the request's
    other work. A token is only ever cached after a full verification, and its expiry is
    checked again on every use. The cost: a key removed from the JWKS keeps admitting
    tokens it already verified until they expire (access tokens are short-lived).
    """

    LEEWAY_S = 5

    def __init__(
        self,
        jwks: JwksCache,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        cache_size: int = 10_000,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.cache_size = cache_size
        # Token -> its principal and claims: a request with a known token builds nothing.
        self._verified: OrderedDict[str, tuple[Principal, dict[str, Any]]] = OrderedDict()

    async def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid access token; raise ``Unauthorized`` otherwise."""
        return (await self.identify(token))[1]

    async def identify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """The principal and claims of a valid access token; ``Unauthorized`` otherwise."""
        verified = self._verified.get(token)
        if verified is not None:
            if time.time() < verified[1]["exp"] + self.LEEWAY_S:
                self._verified.move_to_end(token)
                return verified
            del self._verified[token]
        claims = await self._verify_signature_and_claims(token)
        verified = (Principal.from_claims(claims), claims)
        if self.cache_size > 0:
            self._verified[token] = verified
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return verified

    async def _verify_signature_and_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is malformed", code="invalid_token") from exc
        alg = header.get("alg")
        kid = header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthorized(f"Token algorithm {alg!r} is not accepted", code="invalid_token")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token has no key id", code="invalid_token")
        key = await self.jwks.key(kid)
        if key is None and not self.jwks.ever_fetched:
            # Not the token's fault: no key set could be fetched yet.
            raise ServiceUnavailable(
                "Cannot verify tokens yet: the users service's keys are unreachable.",
                code="jwks_unavailable",
                headers={"Retry-After": "5"},
            )
        if key is None:
            raise Unauthorized("The token was signed by an unknown key", code="invalid_token")
        # The key decides the algorithm, never the token: no HS256-with-public-key confusion.
        if key.algorithm_name != alg:
            raise Unauthorized("The token algorithm does not match its key", code="invalid_token")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=self.LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The token is invalid: {exc}", code="invalid_token") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("Not an access token", code="invalid_token")
        check_claim_shapes(claims)
        return claims


def check_claim_shapes(claims: dict[str, Any]) -> None:
    """Refuse (401) claims a ``Principal`` cannot be built from.

    A signature only proves who issued a token, not that its claims are well formed; a
    ``sub`` that is not a user id would otherwise fail later as a 500 or a database error.
    """
    sub = claims.get("sub")
    if (
        not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 19)
        or not 0 < int(sub) < 2**63
    ):
        raise Unauthorized("The token's subject is not a user id", code="invalid_token")
    for name in ("roles", "perms"):
        value = claims.get(name, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise Unauthorized(f"The token's {name} claim is malformed", code="invalid_token")
    if not isinstance(claims.get("email_verified", False), bool):
        raise Unauthorized("The token's email_verified claim is malformed", code="invalid_token")
    if not isinstance(claims.get("exp"), int | float):
        raise Unauthorized("The token's exp claim is malformed", code="invalid_token")


AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator", Authenticator)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
CLAIMS: web.RequestKey[dict] = web.RequestKey("claims", dict)


def authenticator_context(jwks_url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """``cleanup_ctx`` installing an HTTP-JWKS authenticator unless one is already set."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if AUTHENTICATOR in app:
            yield
            return
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[AUTHENTICATOR] = Authenticator(JwksCache(http_jwks(lambda: session, jwks_url)))
            yield

    return ctx


def bearer_token(request: web.Request) -> str:
    """The token from ``Authorization: Bearer …``, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an access token as 'Authorization: Bearer <token>'")
    return token.strip()


async def authenticate(request: web.Request) -> Principal:
    """Verify the bearer token and remember the principal on the request."""
    principal, claims = await request.app[AUTHENTICATOR].identify(bearer_token(request))
    request[PRINCIPAL] = principal
    request[CLAIMS] = claims
    return principal


class _RequireUser:
    security = "bearer"
    error_statuses = (401,)

    async def __call__(self, request: web.Request) -> None:
        await authenticate(request)


class _RequireAdmin:
    security = "bearer"
    error_statuses = (401, 403)

    def __init__(self, permission: str | None) -> None:
        self.permission = permission

    async def __call__(self, request: web.Request) -> None:
        principal = await authenticate(request)
        if not principal.is_admin:
            raise Forbidden("This route needs an admin token", code="admin_required")
        if self.permission and not principal.can(self.permission):
            raise Forbidden(
                f"This route needs the {self.permission!r} permission",
                code="permission_required",
                permission=self.permission,
            )


class _RequirePermission:
    security = "bearer"
    error_statuses = (401, 403)

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, request: web.Request) -> None:
        if not (await authenticate(request)).can(self.permission):
            raise Forbidden(
                f"This route needs the {self.permission!r} permission",
                code="permission_required",
                permission=self.permission,
            )


class _RequireInternal:
    security = "internalKey"
    error_statuses = (401,)

    async def __call__(self, request: web.Request) -> None:
        expected = request.app[SETTINGS].internal_api_key.encode()
        supplied = request.headers.get(INTERNAL_KEY_HEADER, "").encode()
        if not hmac.compare_digest(supplied, expected):
            raise Unauthorized(
                "This internal route needs a valid X-Internal-Key",
                code="internal_key_required",
                headers={},
            )


require_user = _RequireUser()
require_internal = _RequireInternal()


def require_admin(permission: str | None = None) -> _RequireAdmin:
    """Guard: an admin token, holding ``permission`` when one is given."""
    return _RequireAdmin(permission)


def require_permission(permission: str) -> _RequirePermission:
    """Guard: any token that ``can`` ``permission``: an admin holding it, or (for a
    ``STAFF_PERMISSIONS`` one) an account an admin granted it."""
    return _RequirePermission(permission)


def principal(request: web.Request) -> Principal:
    """The principal a guard verified for this request."""
    return request[PRINCIPAL]
