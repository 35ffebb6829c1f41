"""Client addresses behind trusted proxies (the ingress, the local gateway)."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web


def client_address(request: web.Request, trusted_proxies: Iterable[str]) -> str:
    """The caller's IP: the right-most untrusted hop of ``X-Forwarded-For``, if the
    direct peer is a trusted proxy; otherwise the peer itself."""
    trusted = set(trusted_proxies)
    peer = request.remote or "unknown"
    if peer not in trusted:
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer
