"""Every response carries the security headers; token responses are never cached; CORS
answers only the configured origins."""

from __future__ import annotations

import aiohttp
import pytest

from evently.core.api import TOKEN_FIELDS
from evently.services import SERVICE_NAMES, load_service
from tests.support.recording_upstreams import start_recording_gateway

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
ORIGIN = "https://app.example.com"


def assert_security_headers(headers) -> None:
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (name, dict(headers))
    assert headers.get("Server") == "evently"


@pytest.mark.parametrize("service", SERVICE_NAMES)
@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/nope", "/api/v1/nope?x=%00"])
async def test_every_service_sends_security_headers_and_no_versions(
    service_client, service, path
) -> None:
    client = await service_client(service)
    response = await client.get(path)
    assert_security_headers(response.headers)


async def test_the_gateway_sends_security_headers_on_its_own_and_forwarded_answers(
    aiohttp_server,
) -> None:
    gateway = await start_recording_gateway(aiohttp_server)
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/api/v1/events", "/internal/x"):
            async with session.get(f"http://127.0.0.1:{gateway.port}{path}") as response:
                assert_security_headers(response.headers)


async def test_token_responses_are_not_cacheable(service_client) -> None:
    users = await service_client("users")
    credentials = {"email": "t@example.com", "password": "correct-Horse-battery"}
    registered = await users.post("/api/v1/auth/register", json={**credentials, "name": "T"})
    login = await users.post("/api/v1/auth/login", json=credentials)
    refresh = await users.post(
        "/api/v1/auth/refresh", json={"refresh_token": (await login.json())["refresh_token"]}
    )
    for response in (registered, login, refresh):
        assert response.status in (200, 201), await response.text()
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_endpoint_returning_tokens_is_marked_no_store(service) -> None:
    for endpoint in load_service(service).api.endpoints:
        fields = getattr(endpoint.response, "model_fields", {})
        assert endpoint.carries_tokens == any(name in fields for name in TOKEN_FIELDS)
    users = load_service("users").api.endpoints
    assert {e.path for e in users if e.carries_tokens} >= {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/admin/login",
    }


async def test_no_cross_origin_use_by_default(service_client) -> None:
    events = await service_client("events")
    response = await events.get("/api/v1/events", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await events.options(
        "/api/v1/events",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 403
    assert (await preflight.json())["code"] == "cors_origin_not_allowed"


async def test_cors_answers_preflight_and_requests_of_an_allowed_origin(service_client) -> None:
    events = await service_client("events", CORS_ALLOWED_ORIGINS=f"{ORIGIN},https://b.example")
    preflight = await events.options(
        "/api/v1/admin/events",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed_headers = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    response = await events.get("/api/v1/events", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["Vary"] == "Origin"
    other = await events.get("/api/v1/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
