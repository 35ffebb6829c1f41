"""Path tricks never reach a non-public route: the gateway routes and forwards one path.

Each upstream here is a recorder (tests/support/recording_upstreams.py) that answers every
path, ``/internal/*`` and ``/metrics`` included, with 200 and remembers the raw path it was
sent, so a trick that slipped through would show up as a 200 or as a recorded path.
"""

from __future__ import annotations

from typing import Any

import pytest

from evently.core.paths import InvalidPath, canonical_path, encoded_path
from evently.gateway.routing import service_for
from tests.support.raw_http import raw_request
from tests.support.recording_upstreams import RecordingGateway, start_recording_gateway

# Request targets sent verbatim. Every one must be refused before reaching an upstream.
REFUSED_WITH_400 = [
    "/api/v1/users/%2e%2e/%2e%2e/%2e%2e/internal/users/1",
    "/api/v1/users/%2E%2E/%2E%2E/%2E%2E/internal/users/1",
    "/api/v1/users/../../../internal/users/1",
    "/api/v1/bookings/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/api/v1/bookings/../../../readyz",
    "/api/v1/events/%2e%2e/%2e%2e/%2e%2e/openapi.json",
    "/api/v1/users/.%2e/.%2e/.%2e/internal/users/1",
    "/api/v1/users/./me",
    "/api/v1/users/%252e%252e/%252e%252e/%252e%252e/internal/users/1",
    "/api/v1/users/%25252e%25252e/metrics",
    "/api/v1/users/..%2f..%2f..%2finternal/users/1",
    "/api/v1/users/..%2F..%2F..%2Fmetrics",
    "/api/v1/users/..%5c..%5c..%5cmetrics",
    "/api/v1/users/..\\..\\..\\metrics",
    "/api/v1/users;/../../../internal/users/1",
    "/api/v1/users/me;jsessionid=1",
    "//internal/users/1",
    "/api/v1/users//../../internal/users/1",
    "/%2finternal/users/1",
    "/api/v1/users/%00/x",
    "/api/v1/users/%ff",
    "http://evil.example/api/v1/users/../../../internal/users/1",
    "http://evil.example/api/v1/bookings/%2e%2e/%2e%2e/%2e%2e/metrics",
]
# Well-formed paths that are simply not public: 404 from the gateway itself.
REFUSED_WITH_404 = [
    "/internal/users/1",
    "/Internal/users/1",
    "/INTERNAL/users/1",
    "/API/V1/USERS/me",
    "/api/v1/Users/me",
    "http://evil.example/internal/users/1",
]
# aiohttp's own request-line parser refuses these before any handler runs.
REFUSED_BY_THE_PARSER = ["*", "internal/users/1", "%2e%2e/internal/users/1"]


@pytest.mark.parametrize("raw_path", [t for t in REFUSED_WITH_400 if t.startswith("/")])
def test_canonical_path_refuses_every_ambiguous_form(raw_path: str) -> None:
    with pytest.raises(InvalidPath):
        canonical_path(raw_path)


@pytest.mark.parametrize(
    ("raw_path", "meaning"),
    [
        ("/api/v1/events", "/api/v1/events"),
        ("/api/v1/events/", "/api/v1/events/"),
        ("/api/v1/events/%34%32", "/api/v1/events/42"),
        ("/api/v1/search/caf%C3%A9", "/api/v1/search/café"),
        ("/", "/"),
    ],
)
def test_canonical_path_decodes_once_and_keeps_meaning(raw_path: str, meaning: str) -> None:
    assert canonical_path(raw_path) == meaning
    assert canonical_path(encoded_path(meaning)) == meaning


@pytest.fixture
async def gateway(aiohttp_server: Any) -> RecordingGateway:
    return await start_recording_gateway(aiohttp_server)


@pytest.mark.parametrize("target", REFUSED_WITH_400)
async def test_gateway_refuses_path_tricks_with_a_problem_400(gateway, target: str) -> None:
    response = await raw_request("127.0.0.1", gateway.port, target)
    assert response.status == 400, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_path"
    assert gateway.paths == []


@pytest.mark.parametrize("target", REFUSED_WITH_404)
async def test_gateway_answers_404_for_paths_that_are_not_public(gateway, target: str) -> None:
    response = await raw_request("127.0.0.1", gateway.port, target)
    assert response.status == 404, response.body
    assert response.json()["code"] == "not_found"
    assert gateway.paths == []


@pytest.mark.parametrize("target", REFUSED_BY_THE_PARSER)
async def test_gateway_forwards_nothing_for_malformed_request_targets(gateway, target) -> None:
    response = await raw_request("127.0.0.1", gateway.port, target)
    assert response.status == 400
    assert gateway.paths == []


@pytest.mark.parametrize(
    ("target", "service", "forwarded"),
    [
        ("/api/v1/users/me", "users", "/api/v1/users/me"),
        ("/api/v1/events/%34%32", "events", "/api/v1/events/42"),
        ("/api/v1/events/42?city=..%2F..%2Finternal", "events", "/api/v1/events/42"),
        ("/api/v1/search/caf%c3%a9", "search", "/api/v1/search/caf%C3%A9"),
        ("http://evil.example/api/v1/bookings/7", "bookings", "/api/v1/bookings/7"),
    ],
)
async def test_gateway_forwards_exactly_the_path_it_routed(
    gateway, target: str, service: str, forwarded: str
) -> None:
    response = await raw_request("127.0.0.1", gateway.port, target)
    assert response.status == 200, response.body
    ((upstream, raw_path),) = gateway.paths
    assert upstream == service
    assert raw_path.split("?")[0] == forwarded
    assert service_for(canonical_path(raw_path.split("?")[0])) == service
    if "?" in target:
        assert raw_path.split("?", 1)[1] == target.split("?", 1)[1]


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/users/%2e%2e/%2e%2e/%2e%2e/internal/users/1",
        "/api/v1/users/../../../internal/users/1",
        "/api/v1/users/..%2f..%2f..%2finternal/users/1",
        "/api/v1/users/%2e%2e/%2e%2e/%2e%2e/metrics",
    ],
)
async def test_every_service_refuses_path_tricks_itself(
    aiohttp_server, make_app, target: str
) -> None:
    # In Kubernetes the Ingress reaches each service directly, with no gateway in between.
    server = await aiohttp_server(make_app("users"))
    response = await raw_request("127.0.0.1", server.port, target)
    assert response.status == 400, response.body
    assert response.json()["code"] == "invalid_path"
