"""Versions as HTTP entity tags: ``ETag: "7"`` out, ``If-Match: "7"`` in."""

from __future__ import annotations

from aiohttp import web

from evently.core.errors import BadRequest, FieldError
from evently.events.errors import IfMatchRequired


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(request: web.Request, *, required: bool) -> int | None:
    """The version ``If-Match`` names; None for ``*`` or (when not required) no header.

    Accepts ``"7"``, ``W/"7"`` and a bare ``7``. Missing when required: 428.
    """
    raw = request.headers.get("If-Match")
    if raw is None:
        if required:
            raise IfMatchRequired()
        return None
    value = raw.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit() or not 0 < int(value) < 2**63:
        raise BadRequest(
            f'If-Match must be the event\'s ETag, e.g. "3"; got {raw[:40]!r}',
            code="invalid_if_match",
            errors=[FieldError("header.If-Match", 'expected an ETag such as "3"')],
        )
    return int(value)
