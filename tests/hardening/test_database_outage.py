"""A database outage is a 503 with Retry-After in every service, which then recovers
by itself once the server is back. The server here is a test's own (it is crashed)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from evently.core import migrations
from evently.services import all_services
from tests.bookings.conftest import send_event
from tests.support.restartable_postgres import RestartablePostgres

# One public, database-backed request per service: (service, method, path, body, admin?).
PROBES = [
    ("users", "POST", "/api/v1/auth/login", {"email": "a@example.com", "password": "x" * 12}),
    ("events", "GET", "/api/v1/events", None),
    ("search", "GET", "/api/v1/search?q=jazz", None),
    ("bookings", "GET", "/internal/events/1/availability", None),
    ("analytics", "GET", "/api/v1/admin/analytics/overview", None),
]


@pytest.fixture(scope="module")
def outage_postgres(tmp_path_factory) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(tmp_path_factory.mktemp("outage") / "pg")
    import asyncio

    asyncio.run(migrations.migrate_dsn(server.dsn, [(s.name, s.schema) for s in all_services()]))
    yield server
    server.close()


@pytest.mark.parametrize(("service", "method", "path", "body"), PROBES, ids=[p[0] for p in PROBES])
async def test_an_outage_is_a_503_with_retry_after_then_recovers_by_itself(
    service_client, outage_postgres, admin_headers, service, method, path, body, caplog
) -> None:
    from tests.conftest import INTERNAL_API_KEY

    client = await service_client(service, DATABASE_URL=outage_postgres.dsn, DB_POOL_MIN="2")
    headers = {**admin_headers, "X-Internal-Key": INTERNAL_API_KEY}
    if service == "bookings":
        await send_event(client, 1)

    async def probe():
        return await client.request(method, path, json=body, headers=headers)

    healthy = await probe()
    assert healthy.status < 500, await healthy.text()
    caplog.set_level(logging.WARNING, logger="evently.http")
    outage_postgres.crash()
    try:
        for _ in range(3):  # pooled connections die first, then new ones cannot connect
            down = await probe()
            assert down.status == 503, await down.text()
            problem = await down.json()
            assert problem["code"] in ("database_unavailable", "search_unavailable"), problem
            assert int(down.headers["Retry-After"]) >= 1
            if problem["code"] == "database_unavailable":
                # The operator's log says which trouble it was; the client never sees it.
                causes = [r.getMessage() for r in caplog.records if r.name == "evently.http"]
                assert any("database unavailable on" in c for c in causes), causes
                caplog.clear()
    finally:
        outage_postgres.start()
    recovered = await probe()
    assert recovered.status == healthy.status, await recovered.text()
