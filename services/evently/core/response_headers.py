"""Headers every response of every service carries, and CORS.

In Kubernetes the Ingress reaches each service directly, so these are set by the shared
core (``create_app``), not by a gateway in front:

- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and a CSP that
  lets nothing load or frame: the API serves JSON, never pages;
- ``Server: evently``, which names no versions;
- CORS for the origins in ``CORS_ALLOWED_ORIGINS`` only (none by default); preflight
  requests are answered by ``Cors.preflight``, which ``core.middleware.problem_errors``
  calls. Tokens travel in ``Authorization``, never in cookies, so credentials are not
  allowed.

``core.middleware.request_context`` sets them (``Cors.add_headers``) on every response a
handler returns; a handler that streams calls ``core.middleware.add_response_headers``
before ``prepare()``. A service's ``Cors`` allows its configured origins; the gateway's
allows none, so it sets only the security headers (CORS is the services' own).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web

from evently.core.errors import Forbidden

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Server": "evently",
}
CORS_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_ALLOWED_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Request-ID"
)
CORS_EXPOSED_HEADERS = "ETag, Location, Retry-After, X-Request-ID"
CORS_MAX_AGE_S = "600"


class Cors:
    """CORS for an explicit list of origins; an empty list allows no cross-origin use."""

    def __init__(self, allowed_origins: Iterable[str]) -> None:
        self.allowed_origins = frozenset(origin.rstrip("/") for origin in allowed_origins)

    def preflight(self, request: web.Request) -> web.Response | None:
        """The answer to a CORS preflight request, or None when ``request`` is not one."""
        origin = request.headers.get(hdrs.ORIGIN)
        is_preflight = (
            request.method == hdrs.METH_OPTIONS
            and origin is not None
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        )
        if not is_preflight:
            return None
        if origin not in self.allowed_origins:
            raise Forbidden(
                f"Origin {origin[:200]} may not call this API (CORS_ALLOWED_ORIGINS)",
                code="cors_origin_not_allowed",
            )
        return web.Response(status=204, headers=self._preflight_headers(origin))

    def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """The security headers, and CORS headers for an allowed ``Origin``."""
        response.headers.update(SECURITY_HEADERS)
        if not self.allowed_origins:
            return
        response.headers[hdrs.VARY] = "Origin"
        origin = request.headers.get(hdrs.ORIGIN)
        if origin in self.allowed_origins:
            response.headers.update(self._headers(origin))

    @staticmethod
    def _headers(origin: str) -> dict[str, str]:
        return {
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_EXPOSE_HEADERS: CORS_EXPOSED_HEADERS,
            hdrs.VARY: "Origin",
        }

    def _preflight_headers(self, origin: str) -> dict[str, str]:
        return {
            **self._headers(origin),
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: CORS_ALLOWED_METHODS,
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: CORS_ALLOWED_HEADERS,
            hdrs.ACCESS_CONTROL_MAX_AGE: CORS_MAX_AGE_S,
        }
