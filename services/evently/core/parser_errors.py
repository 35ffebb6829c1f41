"""Requests that aiohttp's own HTTP parser refuses answer problem+json too.

aiohttp answers a request it cannot parse (a header line over 8 KB, an invalid header
character, a duplicate ``Host``, a request target such as ``*``, a malformed method)
from ``RequestHandler.handle_error``, before any application or middleware runs, with a
``text/plain`` body that quotes the offending bytes: an ``Authorization`` header among
them. aiohttp has no public hook for this, so :func:`install` makes every server of the
process build its connections with :class:`ProblemRequestHandler`, which answers with a
problem document that quotes nothing from the request. This relies on
``aiohttp.web_server.Server`` looking up ``RequestHandler`` in its module (aiohttp 3.14,
pinned in pyproject.toml); ``tests/hardening/test_parser_errors.py`` fails if it stops.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from aiohttp import http_exceptions, web_protocol, web_server
from aiohttp.web import Response, StreamResponse
from aiohttp.web_request import BaseRequest

from evently.core.errors import PROBLEM_CONTENT_TYPE, problem_body

log = logging.getLogger("evently.http")


def _problem_for(status: int, exc: BaseException | None) -> tuple[int, str, str]:
    """Status, code and detail for a refused request; never quotes the request."""
    if isinstance(exc, http_exceptions.LineTooLong):
        # aiohttp passes the first bytes of the line that was too long: a request target
        # starts like a path or a URL, a header name or value (almost always) does not.
        start = (
            bytes(exc.args[0]) if exc.args and isinstance(exc.args[0], bytes | bytearray) else b""
        )
        if start.startswith((b"/", b"http:", b"https:")):
            return 414, "uri_too_long", "The request target is too long"
        return 431, "request_header_fields_too_large", "A request header is too long"
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return 400, "bad_request", "The request method is not a valid HTTP method"
    if isinstance(exc, http_exceptions.InvalidURLError):
        return 400, "bad_request", "The request target is not an absolute path or URL"
    if isinstance(exc, http_exceptions.InvalidHeader):
        return 400, "bad_request", "A request header is malformed"
    if status >= 500:
        return 500, "internal_error", "The server failed to handle this request"
    return status, "bad_request", "The request is not valid HTTP/1.1"


class ProblemRequestHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering parser errors with problem+json."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if request.writer.output_size > 0:
            # Part of a response went out already: only closing the connection is left.
            return super().handle_error(request, status, exc, message)
        status, code, detail = _problem_for(status, exc)
        if status >= 500:
            log.error("unhandled error before routing", exc_info=exc)
        else:
            log.info("refused a malformed request: %s", type(exc).__name__ if exc else status)
        body = problem_body(status, code, HTTPStatus(status).phrase, detail)
        response = Response(status=status, text=json.dumps(body), content_type=PROBLEM_CONTENT_TYPE)
        response.force_close()
        return response


def install() -> None:
    """Make every aiohttp server in this process use :class:`ProblemRequestHandler`."""
    web_server.RequestHandler = ProblemRequestHandler  # type: ignore[misc]
