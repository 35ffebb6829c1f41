"""The Ingress routes exactly the routing table's public paths, never /internal."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from evently.core.paths import InvalidPath, canonical_path
from evently.gateway.routing import ROUTING_TABLE, service_for
from tests.core.test_gateway_paths import REFUSED_WITH_400, REFUSED_WITH_404
from tests.deploy.chart import CHART, ROOT, VALUE_SETS, render
from tests.deploy.nginx_uri import NginxRefuses, nginx_location, nginx_normalise

ROUTING_FILE = CHART / "files" / "routing.json"


def test_routing_file_is_in_sync_with_the_routing_table() -> None:
    result = subprocess.run(
        [sys.executable, "hack/render-routing.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    routes = json.loads(ROUTING_FILE.read_text())["routes"]
    assert [(r["pattern"], r["service"]) for r in routes] == [
        (rule.pattern, rule.service) for rule in ROUTING_TABLE
    ]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_internal_never_appears_in_the_ingress(value_set: str) -> None:
    out = render(*VALUE_SETS[value_set])
    ingresses = out.of_kind("Ingress")
    assert ingresses
    for ingress in ingresses:
        assert "/internal" not in json.dumps(ingress)
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert not re.match(path["path"], "/internal/events/1/availability")


def test_ingress_paths_are_the_table_in_ingress_nginx_regex_order() -> None:
    out = render()
    (ingress,) = out.of_kind("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert [p["path"] for p in paths] == [r.pattern.removeprefix("^") for r in ROUTING_TABLE]
    assert [len(p["path"]) for p in paths] == sorted((len(p["path"]) for p in paths), reverse=True)
    for path, table_rule in zip(paths, ROUTING_TABLE, strict=True):
        assert path["pathType"] == "ImplementationSpecific"
        backend = path["backend"]["service"]
        service = table_rule.service.replace("_", "-")  # the chart's DNS name
        assert backend == {"name": f"evently-{service}", "port": {"name": "http"}}
        out.get("Service", backend["name"])


@pytest.mark.parametrize(
    "request_path",
    [
        "/api/v1/events",
        "/api/v1/events/42",
        "/api/v1/events/42/availability/stream",
        "/api/v1/events/42/waitlist",
        "/api/v1/admin/events/7/analytics",
        "/api/v1/auth/login",
        "/.well-known/jwks.json",
        "/.well-known/ticket-keys.json",
        "/api/v1/bookings/42/tickets/1.svg",
        "/api/v1/events/7/checkin/scans",
        "/api/v1/notifications/stream",
    ],
)
def test_first_matching_ingress_path_picks_the_gateways_service(request_path: str) -> None:
    # ingress-nginx anchors regex locations at the start and tries the longest first.
    (ingress,) = render().of_kind("Ingress")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    chosen = next(p for p in paths if re.match("^" + p["path"], request_path))
    assert chosen["backend"]["service"]["name"] == f"evently-{service_for(request_path)}"


def test_tls_and_host_in_prod() -> None:
    (ingress,) = render(*VALUE_SETS["prod"]).of_kind("Ingress")
    assert ingress["spec"]["tls"] == [
        {"hosts": ["evently.example.com"], "secretName": "evently-tls"}
    ]
    assert ingress["spec"]["rules"][0]["host"] == "evently.example.com"


# Annotations that would make ingress-nginx forward something other than the path it matched.
PATH_CHANGING_ANNOTATIONS = (
    "rewrite-target",
    "configuration-snippet",
    "server-snippet",
    "app-root",
)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_ingress_forwards_the_request_path_unchanged(value_set: str) -> None:
    (ingress,) = render(*VALUE_SETS[value_set]).of_kind("Ingress")
    annotations = ingress["metadata"].get("annotations", {})
    changing = [a for a in annotations if a.rsplit("/", 1)[-1] in PATH_CHANGING_ANNOTATIONS]
    assert changing == []


@pytest.mark.parametrize(
    "target",
    [t.removeprefix("http://evil.example") for t in REFUSED_WITH_400 + REFUSED_WITH_404],
)
def test_path_tricks_through_the_ingress_reach_no_internal_route(target: str) -> None:
    # Whatever nginx routes, the Service receives the raw path: it must refuse it, or read
    # it as the same public path nginx matched (see tests/deploy/nginx_uri.py).
    (ingress,) = render().of_kind("Ingress")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    try:
        normalised = nginx_normalise(target)
    except NginxRefuses:
        return
    location = nginx_location(paths, normalised)
    if location is None:
        return
    service = location["backend"]["service"]["name"].removeprefix("evently-")
    try:
        seen_by_service = canonical_path(target)
    except InvalidPath:
        return
    assert seen_by_service == normalised
    assert service_for(seen_by_service.lower()) == service


def test_the_ingress_lets_through_the_largest_body_a_public_route_accepts() -> None:
    from evently.events.seating_routes import SEAT_MAP_MAX_BYTES
    from evently.gateway.routing import MAX_PUBLIC_BODY_BYTES

    (ingress,) = render().of_kind("Ingress")
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size == f"{MAX_PUBLIC_BODY_BYTES // (1024 * 1024)}m"
    assert MAX_PUBLIC_BODY_BYTES >= SEAT_MAP_MAX_BYTES
