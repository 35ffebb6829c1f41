"""Query parameters mean what the OpenAPI document says, and nothing looser."""

from __future__ import annotations

import pytest

from tests.hardening.test_hostile_input import assert_names_field


@pytest.mark.parametrize(
    ("service", "path", "field"),
    [
        ("events", "/api/v1/events?to=0.5", "query.to"),
        ("events", "/api/v1/events?from=1700000000", "query.from"),
        ("events", "/api/v1/events?type=", "query.type"),
        ("events", "/api/v1/events?city=", "query.city"),
        ("search", "/api/v1/search?to=0.5", "query.to"),
        ("search", "/api/v1/search?from=1700000000", "query.from"),
        ("search", "/api/v1/search?type=", "query.type"),
        ("search", "/api/v1/search?city=", "query.city"),
    ],
)
async def test_loose_values_are_refused(service_client, service, path, field) -> None:
    client = await service_client(service)
    response = await client.get(path)
    assert response.status == 400, await response.text()
    assert_names_field(await response.json(), field)


async def test_analytics_report_dates_must_be_iso(service_client, admin_headers) -> None:
    analytics = await service_client("analytics")
    response = await analytics.get(
        "/api/v1/admin/events/1/analytics?from=0.5", headers=admin_headers
    )
    assert response.status == 400, await response.text()
    assert_names_field(await response.json(), "query.from")


@pytest.mark.parametrize(
    ("service", "query"),
    [
        ("events", "from=2030-05-01&to=2030-05-02"),
        ("events", "from=2030-05-01T20:00:00Z&to=2030-05-01T23:00:00%2B02:00"),
        ("search", "from=2030-05-01&to=2030-05-01T20:00:00Z"),
        ("search", "q="),
    ],
)
async def test_iso_dates_and_datetimes_are_accepted(service_client, service, query) -> None:
    client = await service_client(service)
    path = "/api/v1/events" if service == "events" else "/api/v1/search"
    response = await client.get(f"{path}?{query}")
    assert response.status == 200, await response.text()
