"""Requests aiohttp's parser refuses are problem+json too, and never echo credentials."""

from __future__ import annotations

import pytest

from tests.support.raw_http import raw_request
from tests.support.recording_upstreams import start_recording_gateway

SECRET = "Bearer sekrit-token-" + "x" * 20
# (request target, method, headers) -> expected status
MALFORMED = [
    pytest.param(
        "/healthz",
        "GET",
        [("Host", "h"), ("Authorization", SECRET + "y" * 17000)],
        431,
        id="header-over-8kb",
    ),
    pytest.param(
        "/healthz",
        "GET",
        [("Host", "h"), ("X-Bad\x01", "1"), ("Authorization", SECRET)],
        400,
        id="invalid-header-character",
    ),
    pytest.param(
        "/healthz",
        "GET",
        [("Host", "a"), ("Host", "b"), ("Authorization", SECRET)],
        400,
        id="duplicate-host",
    ),
    pytest.param("*", "GET", [("Host", "h"), ("Authorization", SECRET)], 400, id="asterisk"),
    pytest.param(
        "internal/users/1",
        "GET",
        [("Host", "h"), ("Authorization", SECRET)],
        400,
        id="relative-target",
    ),
    pytest.param(
        "/healthz", "GE(T", [("Host", "h"), ("Authorization", SECRET)], 400, id="malformed-method"
    ),
    pytest.param(
        "/" + "a" * 17000,
        "GET",
        [("Host", "h"), ("Authorization", SECRET)],
        414,
        id="request-line-over-8kb",
    ),
]


def assert_problem_without_secrets(response, status: int) -> None:
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"]
    assert b"sekrit" not in response.body


@pytest.mark.parametrize(("target", "method", "headers", "status"), MALFORMED)
async def test_a_service_answers_parser_errors_with_problem_json(
    aiohttp_server, make_app, target, method, headers, status
) -> None:
    server = await aiohttp_server(make_app("users"))
    response = await raw_request("127.0.0.1", server.port, target, method=method, headers=headers)
    assert_problem_without_secrets(response, status)


@pytest.mark.parametrize(("target", "method", "headers", "status"), MALFORMED)
async def test_the_gateway_answers_parser_errors_with_problem_json(
    aiohttp_server, target, method, headers, status
) -> None:
    gateway = await start_recording_gateway(aiohttp_server)
    response = await raw_request("127.0.0.1", gateway.port, target, method=method, headers=headers)
    assert_problem_without_secrets(response, status)
    assert gateway.seen == []


async def test_an_unknown_method_is_a_problem_400(aiohttp_server, make_app):
    # aiohttp's parser knows the registered HTTP methods only; others never reach a route.
    server = await aiohttp_server(make_app("users"))
    response = await raw_request("127.0.0.1", server.port, "/healthz", method="BREW")
    assert response.status == 400, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
