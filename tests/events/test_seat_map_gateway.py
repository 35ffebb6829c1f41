"""A seat map larger than the services' usual 1 MiB body limit goes through the local
gateway to the events service (the Ingress: tests/deploy/test_ingress.py)."""

from __future__ import annotations

from evently.gateway.proxy import create_gateway
from evently.gateway.routing import MAX_PUBLIC_BODY_BYTES
from evently.services import all_services
from tests.events.seating import new_venue


def big_map(rows: int) -> dict:
    seats = [{"label": str(n), "x": n, "y": 1} for n in range(1, 1001)]
    return {
        "name": "Big",
        "zones": [{"id": "all", "name": "All"}],
        "sections": [
            {
                "id": "S",
                "zone": "all",
                "rows": [{"id": f"R{r}", "seats": seats} for r in range(rows)],
            }
        ],
    }


async def test_a_two_megabyte_seat_map_uploads_through_the_gateway(client, tokens, aiohttp_client):
    events_url = str(client.make_url("")).rstrip("/")
    upstreams = {service.name: events_url for service in all_services()}
    gateway = await aiohttp_client(create_gateway(upstreams, {}, max_body=MAX_PUBLIC_BODY_BYTES))
    venue = await new_venue(client, tokens)
    response = await gateway.post(
        f"/api/v1/admin/venues/{venue['id']}/seat-maps", json=big_map(60), headers=tokens.admin()
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["stats"]["seats"] == 60_000
    # Any other route keeps the service's own limit.
    too_big = await gateway.post(
        "/api/v1/admin/venues",
        data=b"{" + b" " * (2 << 20) + b"}",
        headers=tokens.admin() | {"Content-Type": "application/json"},
    )
    assert too_big.status == 413
