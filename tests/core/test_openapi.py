"""Every route is documented: each service's /openapi.json and the gateway's merged one."""

from __future__ import annotations

import pytest

from evently.core.api import openapi_path
from evently.gateway.up import merged_openapi
from evently.services import SERVICE_NAMES, load_service


def registered_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        routes.add((route.method.lower(), openapi_path(path)))
    return routes


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_every_registered_route_is_in_the_service_document(service, aiohttp_client, make_app):
    app = make_app(service)
    client = await aiohttp_client(app)
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    missing = registered_routes(app) - documented
    assert not missing, f"undocumented routes: {sorted(missing)}"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"], f"{method} {path} has no summary"
            assert op["responses"], f"{method} {path} documents no response"


def test_schema_references_resolve():
    document = merged_openapi()
    schemas = document["components"]["schemas"]
    text = str(document)
    import re

    for ref in set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text)):
        assert ref in schemas, f"dangling $ref {ref}"


def test_gateway_document_has_every_public_route_and_no_internal_one():
    document = merged_openapi()
    paths = set(document["paths"])
    assert not any(p.startswith("/internal") for p in paths)
    for name in SERVICE_NAMES:
        for endpoint in load_service(name).api.endpoints:
            if not endpoint.internal:
                assert openapi_path(endpoint.path) in paths


def test_request_and_response_headers_are_declared():
    paths = merged_openapi()["paths"]
    hold = paths["/api/v1/bookings"]["post"]
    key = next(p for p in hold["parameters"] if p["in"] == "header")
    assert (key["name"], key["required"]) == ("Idempotency-Key", True)
    replace = paths["/api/v1/admin/events/{id}"]["put"]
    if_match = next(p for p in replace["parameters"] if p["in"] == "header")
    assert (if_match["name"], if_match["required"]) == ("If-Match", True)
    cancel = paths["/api/v1/admin/events/{id}"]["delete"]
    assert [p["required"] for p in cancel["parameters"] if p["name"] == "If-Match"] == [False]
    created = paths["/api/v1/admin/events"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    assert "ETag" in replace["responses"]["200"]["headers"]
    assert "ETag" in paths["/api/v1/events/{id}"]["get"]["responses"]["200"]["headers"]


def test_every_429_and_503_declares_retry_after():
    for path, operations in merged_openapi()["paths"].items():
        for method, operation in operations.items():
            for status in ("429", "503"):
                if status in operation["responses"]:
                    headers = operation["responses"][status].get("headers", {})
                    assert "Retry-After" in headers, (method, path, status)
