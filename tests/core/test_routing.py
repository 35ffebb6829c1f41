"""The one routing table sends each public route to its service and never /internal."""

from __future__ import annotations

import re

import pytest

from evently.gateway.routing import ROUTING_TABLE, service_for
from evently.services import SERVICE_NAMES, load_service


def example_path(template: str) -> str:
    return re.sub(r"{[^}]+}", "123", template)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_public_route_is_routed_to_its_own_service(service):
    for endpoint in load_service(service).api.endpoints:
        path = example_path(endpoint.path)
        if endpoint.internal:
            assert service_for(path) is None
        else:
            assert service_for(path) == service, f"{endpoint.method} {endpoint.path}"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/events", "events"),
        ("/api/v1/events/5", "events"),
        ("/api/v1/events/5/availability", "events"),
        ("/api/v1/events/5/availability/stream", "bookings"),
        ("/api/v1/events/5/waitlist", "bookings"),
        ("/api/v1/events/5/waitlist/me", "bookings"),
        ("/api/v1/events/5/checkin/scans", "bookings"),
        ("/api/v1/events/5/checkin/list", "bookings"),
        ("/api/v1/admin/events/5", "events"),
        ("/api/v1/admin/events/5/analytics", "analytics"),
        ("/api/v1/admin/events/5/waiting-room/report", "waiting_room"),
        ("/api/v1/admin/events/5/waiting-room", "events"),
        ("/api/v1/admin/analytics/overview", "analytics"),
        ("/api/v1/bookings/9/confirm", "bookings"),
        ("/api/v1/search/suggest", "search"),
        ("/api/v1/users/bookings", "users"),
        ("/api/v1/auth/login", "users"),
        ("/.well-known/jwks.json", "users"),
        ("/.well-known/ticket-keys.json", "bookings"),
        ("/api/v1/bookings/9/tickets", "bookings"),
        ("/api/v1/notifications/stream", "notifications"),
        ("/api/v1/bookings/9/tickets/2.png", "bookings"),
        ("/api/v1/admin/venues/3", "events"),
        ("/api/v1/admin/seat-maps/3/versions/2.svg", "events"),
        ("/api/v1/venues/3", "events"),
        ("/api/v1/events/5/seat-map.svg", "events"),
    ],
)
def test_known_paths(path, service):
    assert service_for(path) == service


@pytest.mark.parametrize(
    "path",
    [
        "/internal/inbox",
        "/internal/events/1",
        "/internal/v1/seat-maps/1/versions/1",
        "/metrics",
        "/api/v2/events",
        "/",
    ],
)
def test_non_public_paths_are_not_routed(path):
    assert service_for(path) is None


def test_table_is_sorted_longest_first_like_ingress_nginx():
    lengths = [len(rule.pattern) for rule in ROUTING_TABLE]
    assert lengths == sorted(lengths, reverse=True)
    assert not any("internal" in rule.pattern for rule in ROUTING_TABLE)
