"""The one routing table: which service answers which public path.

The local gateway (``evently up``) and the Kubernetes Ingress (``charts/evently``, via
``hack/render-routing.py``) both use it. Rules are regular expressions matched against
the request path; they are kept sorted longest first, which is the order ingress-nginx
evaluates regex locations in, so the first matching rule wins in both places.
``/internal/*`` is never public.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

# The largest request body any public route accepts: a seat map upload (docs/seating.md).
# The local gateway and the Ingress (proxy-body-size) let bodies this large through;
# each service still enforces its own limit (MAX_BODY_BYTES, 1 MiB by default) on every
# other route.
MAX_PUBLIC_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RoutingRule:
    """Requests whose path matches ``pattern`` go to ``service``."""

    pattern: str
    service: str

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


_RULES = [
    RoutingRule(r"^/api/v1/admin/events/[^/]+/analytics$", "analytics"),
    RoutingRule(r"^/api/v1/events/[^/]+/availability/stream$", "bookings"),
    RoutingRule(r"^/api/v1/events/[^/]+/waitlist(/.*)?$", "bookings"),
    RoutingRule(r"^/api/v1/events/[^/]+/checkin(/.*)?$", "bookings"),
    RoutingRule(r"^/api/v1/admin/analytics(/.*)?$", "analytics"),
    RoutingRule(r"^/\.well-known/jwks\.json$", "users"),
    RoutingRule(r"^/\.well-known/ticket-keys\.json$", "bookings"),
    RoutingRule(r"^/api/v1/admin/events(/.*)?$", "events"),
    RoutingRule(r"^/api/v1/admin/venues(/.*)?$", "events"),
    RoutingRule(r"^/api/v1/admin/seat-maps(/.*)?$", "events"),
    RoutingRule(r"^/api/v1/venues(/.*)?$", "events"),
    RoutingRule(r"^/api/v1/bookings(/.*)?$", "bookings"),
    RoutingRule(r"^/api/v1/search(/.*)?$", "search"),
    RoutingRule(r"^/api/v1/events(/.*)?$", "events"),
    RoutingRule(r"^/api/v1/notifications(/.*)?$", "notifications"),
    RoutingRule(r"^/api/v1/users(/.*)?$", "users"),
    RoutingRule(r"^/api/v1/auth(/.*)?$", "users"),
    RoutingRule(r"^/api/v1/payments/webhooks$", "bookings"),
    RoutingRule(r"^/api/v1/events/[^/]+/waiting-room(/.*)?$", "waiting_room"),
    RoutingRule(r"^/\.well-known/admission-keys\.json$", "waiting_room"),
    RoutingRule(r"^/api/v1/admin/events/[^/]+/waiting-room/report$", "waiting_room"),
]
ROUTING_TABLE: tuple[RoutingRule, ...] = tuple(
    sorted(_RULES, key=lambda rule: len(rule.pattern), reverse=True)
)


def service_for(path: str) -> str | None:
    """The service that answers ``path`` publicly, or None if it is not public."""
    if path.startswith("/internal"):
        return None
    for rule in ROUTING_TABLE:
        if rule.regex.match(path):
            return rule.service
    return None
