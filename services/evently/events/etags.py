"""Versions as HTTP entity tags: ``ETag: "7"`` out, ``If-Match: "7"`` in."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import Header
from evently.core.errors import BadRequest, FieldError
from evently.events.errors import IfMatchRequired


def if_match_header(*, required: bool) -> Header:
    """How an endpoint documents the ``If-Match`` it reads."""
    when = "required" if required else "optional"
    return Header(
        "If-Match",
        f'The event\'s ETag as last read, e.g. "3" ({when}); another version gets 412.',
        required=required,
    )


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(request: web.Request, *, required: bool) -> int | None:
    """The version ``If-Match`` names; None for ``*`` or (when not required) no header.

    Accepts ``"7"``, ``W/"7"`` and a bare ``7``. Missing when required: 428; malformed:
    400; well formed but not the current version (``"0"`` included): 412 later.
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
    # Any well-formed tag is a precondition: one no event ever had ("0") fails with 412.
    if not (value.isascii() and value.isdigit() and len(value) <= 30):
        raise BadRequest(
            f'If-Match must be the event\'s ETag, e.g. "3"; got {raw[:40]!r}',
            code="invalid_if_match",
            errors=[FieldError("header.If-Match", 'expected an ETag such as "3"')],
        )
    return int(value)
