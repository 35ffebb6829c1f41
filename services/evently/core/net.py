"""Client addresses behind trusted proxies (the ingress, the local gateway)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


@lru_cache(maxsize=4096)  # parsing an address costs more than the rest of the check
def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    """Keyed by the entries as text: hashing ``ipaddress`` networks runs in Python."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def client_address(request: web.Request, trusted_proxies: Iterable[str]) -> str:
    """The caller's IP: the right-most untrusted hop of ``X-Forwarded-For`` when the
    direct peer is a trusted proxy; otherwise the peer itself.

    ``trusted_proxies`` holds addresses or CIDR ranges (``10.0.0.0/8``), so a chart can
    trust the whole pod network the ingress controller runs in.
    """
    trusted = tuple(trusted_proxies)
    peer = request.remote or "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return peer


@lru_cache(maxsize=4096)
def address_bucket(address: str) -> str:
    """A client address as limits count it: IPv4 as it is, IPv6 by its /64 (which one
    host or household usually owns)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
