"""One reading of a request path, shared by the gateway and every service.

A path is routed on what it *means*, and whatever it is forwarded as must mean the same
thing to the next hop. Dot segments, encoded slashes, backslashes and double encoding
are where proxies and servers disagree (one matches the decoded ``/a/../b``, the next
resolves it to ``/b``), so none of them is accepted: a request whose path holds one is
refused with 400 ``invalid_path`` before any routing. What remains has exactly one
meaning, which :func:`canonical_path` returns decoded and :func:`encoded_path` re-encodes
for forwarding.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from evently.core.errors import BadRequest

# Characters a path segment may carry unencoded (RFC 3986 pchar, minus ';' which we refuse).
_SEGMENT_SAFE = "/!$&'()*+,=:@~-._"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Segments of unreserved characters, none starting with '.': such a path means itself.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")


class InvalidPath(BadRequest):
    """The request path has a form that could mean two different paths."""

    code, title = "invalid_path", "Invalid request path"


def _refuse(raw_path: str, why: str) -> InvalidPath:
    return InvalidPath(f"The request path is not accepted: {why}", path=raw_path[:200])


def canonical_path(raw_path: str) -> str:
    """The decoded path ``raw_path`` (as sent, percent-encoded) stands for.

    Raises :class:`InvalidPath` for dot segments (``.``, ``..``, also encoded), empty
    segments (``//``), encoded slashes or backslashes, backslashes, ``;`` path
    parameters, control characters and anything still percent-encoded after one
    decoding (``%252e``). A single trailing slash is kept: it is a different resource.
    """
    if _PLAIN_PATH.fullmatch(raw_path) and raw_path:
        return raw_path  # the common case, decided by one regex
    if not raw_path.startswith("/"):
        raise _refuse(raw_path, "it must start with '/'")
    try:
        decoded = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise _refuse(raw_path, "percent-encoding that is not UTF-8") from None
    if decoded.count("/") != raw_path.count("/"):
        raise _refuse(raw_path, "an encoded '/'")
    if "%" in decoded:
        raise _refuse(raw_path, "double or malformed percent-encoding")
    if "\\" in decoded:
        raise _refuse(raw_path, "a backslash")
    if ";" in decoded:
        raise _refuse(raw_path, "';' path parameters")
    if _CONTROL_CHARACTER.search(decoded):
        raise _refuse(raw_path, "a control character")
    segments = decoded.split("/")[1:]
    for position, segment in enumerate(segments):
        if segment in (".", ".."):
            raise _refuse(raw_path, "a dot segment ('.' or '..')")
        if not segment and position != len(segments) - 1:
            raise _refuse(raw_path, "an empty segment ('//')")
    return decoded


def encoded_path(path: str) -> str:
    """``path`` (canonical, decoded) percent-encoded for the next hop."""
    return quote(path, safe=_SEGMENT_SAFE)
