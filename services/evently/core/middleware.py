"""The middleware stack every service runs, outermost first:

1. ``request_context``: request id (incoming ``X-Request-ID`` or a new one), access log
   and HTTP metrics, so even error responses are counted and carry the id; once the
   process drains before shutdown, each response closes its connection
   (``Connection: close``), so keep-alive clients reconnect elsewhere;
2. ``problem_errors``: refuses a path that could mean two paths (``core/paths.py``)
   before any handler sees it and records the one it means, answers CORS preflight
   requests where the app has a ``CORS`` policy, then turns every failure into
   problem+json: database trouble into a retryable 503 where the app is
   ``DATABASE_BACKED`` (``core/database_errors.py``), and a crash into a 500 that logs the
   traceback with the request id and never shows it to the client.

Each layer costs every request a coroutine and a wrapper, so related jobs share one.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from evently.core.database_errors import RETRYABLE, database_unavailable
from evently.core.errors import (
    ApiError,
    problem_body,
    problem_from_http_exception,
    problem_response,
)
from evently.core.health import SHUTTING_DOWN
from evently.core.logs import request_id_var, service_var
from evently.core.metrics import (
    HTTP_IN_FLIGHT,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    labelled,
    route_template,
)
from evently.core.paths import canonical_path
from evently.core.response_headers import Cors

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("evently.http")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SERVICE_NAME: web.AppKey[str] = web.AppKey("service_name", str)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
CANONICAL_PATH: web.RequestKey[str] = web.RequestKey("canonical_path", str)
# The app's CORS policy: its presence makes ``problem_errors`` answer preflight requests.
CORS: web.AppKey[Cors] = web.AppKey("cors", Cors)
# Whose headers every response carries (``add_response_headers``).
RESPONSE_HEADERS: web.AppKey[Cors] = web.AppKey("response_headers", Cors)
DATABASE_BACKED: web.AppKey[bool] = web.AppKey("database_backed", bool)


def _request_id(request: web.Request) -> str:
    """The caller's ``X-Request-ID`` when it is safe to log, else 32 random hex digits
    (``os.urandom``: the same shape as ``uuid4().hex``, without building a UUID)."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _SAFE_REQUEST_ID.match(incoming) else os.urandom(16).hex()


def add_response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The request id, the security headers and CORS: ``request_context`` adds them to
    every response a handler returns; a handler that streams calls this before
    ``prepare()`` (cheaper than an ``on_response_prepare`` hook on every response)."""
    response.headers["X-Request-ID"] = request[REQUEST_ID]
    request.app[RESPONSE_HEADERS].add_headers(request, response)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, then log and measure the request whatever happens."""
    service = request.app[SERVICE_NAME]
    draining = request.app[SHUTTING_DOWN]
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    rid_token = request_id_var.set(request_id)
    svc_token = service_var.set(service)
    labelled(HTTP_IN_FLIGHT, service).inc()
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            add_response_headers(request, response)
        if draining.is_set():
            # During the drain (``serve_apps``), answer, then close the connection: a
            # client's keep-alive connection outlives the pod's removal from its Service,
            # and the server would otherwise close it at shutdown, maybe under a request.
            response.force_close()
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = route_template(request)
        labelled(HTTP_REQUESTS, service, request.method, route, str(status)).inc()
        labelled(HTTP_REQUEST_DURATION, service, request.method, route).observe(elapsed)
        if route not in ("/metrics", "/healthz", "/readyz"):
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={"status": status, "route": route, "duration_ms": round(elapsed * 1000, 2)},
            )
        request_id_var.reset(rid_token)
        service_var.reset(svc_token)


@web.middleware
async def problem_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse ambiguous paths (400 ``invalid_path``) and record the one the request
    means; answer CORS preflight requests; render ApiError, aiohttp's HTTP exceptions,
    database trouble and crashes as problem+json."""
    try:
        request[CANONICAL_PATH] = canonical_path(request.rel_url.raw_path)
        if request.method == hdrs.METH_OPTIONS and CORS in request.app:
            preflight = request.app[CORS].preflight(request)
            if preflight is not None:
                return preflight
        response = await handler(request)
    except ApiError as exc:
        return problem_response(exc.as_problem(), exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_from_http_exception(exc, request.path)
    except RETRYABLE as exc:
        if not request.app.get(DATABASE_BACKED, False):
            return _internal_error(request)
        # Which trouble it was (lost connection, full pool, statement timeout...) is
        # for the operator's log only; the client is told to retry.
        log.warning(
            "database unavailable on %s %s: %s: %s",
            request.method,
            request.path,
            type(exc).__name__,
            exc,
        )
        unavailable = database_unavailable(request.app[SERVICE_NAME])
        return problem_response(unavailable.as_problem(), unavailable.headers)
    except Exception:
        return _internal_error(request)
    # aiohttp returns (rather than raises) some errors, e.g. 405 on HEAD; normalise them.
    if (
        response.status >= 400
        and not response.prepared
        and isinstance(response, web.Response)
        and not (response.content_type or "").endswith("json")
    ):
        exc = web.HTTPException(text=response.text)
        exc.set_status(response.status)
        return problem_from_http_exception(exc, request.path)
    return response


def _internal_error(request: web.Request) -> web.Response:
    """500: the traceback goes to the log with the request id, never to the client.

    Call it from an ``except`` block: it logs the exception being handled."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    body = problem_body(
        500,
        "internal_error",
        "Internal server error",
        "The server failed to handle this request; quote the request id when reporting it.",
        request_id=request.get(REQUEST_ID, ""),
    )
    return problem_response(body)


# The stack every app (each service and the gateway) runs, outermost first.
MIDDLEWARES = (request_context, problem_errors)
