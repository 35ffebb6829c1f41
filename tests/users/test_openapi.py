"""Every route the users service serves is in its OpenAPI document."""

from __future__ import annotations

from evently.core.api import openapi_path


async def test_every_route_is_documented(users):
    document = await (await users.get("/openapi.json")).json()
    served = {
        (openapi_path(route.resource.canonical), route.method.lower())
        for route in users.app.router.routes()
        if route.method != "HEAD"
    }
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert served == documented
    assert {
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/admin/login", "post"),
        ("/api/v1/auth/admin/register", "post"),
        ("/api/v1/users/profile", "get"),
        ("/api/v1/users/profile", "put"),
        ("/api/v1/users/bookings", "get"),
        ("/internal/auth/verify", "post"),
        ("/internal/users/{id}", "get"),
        ("/.well-known/jwks.json", "get"),
    } <= documented


async def test_each_operation_says_what_it_needs_and_returns(users):
    document = await (await users.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/api/v1/users/profile"]["get"]["security"] == [{"bearer": []}]
    assert paths["/internal/users/{id}"]["get"]["security"] == [{"internalKey": []}]
    assert paths["/internal/users/{id}"]["get"]["x-visibility"] == "internal"
    assert set(paths["/api/v1/auth/admin/register"]["post"]["responses"]) >= {
        "201", "400", "401", "403", "409",
    }  # fmt: skip
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]
    assert "SessionOut" in document["components"]["schemas"]
    for operations in paths.values():
        for operation in operations.values():
            assert operation["summary"]
