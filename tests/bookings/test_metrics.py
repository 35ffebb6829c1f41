"""The bookings metrics on /metrics: outcomes, lock waits, expiry, bounded inventory gauges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evently.bookings.metrics import InventoryGauges
from tests.bookings.conftest import eventually, iso, send_event


async def test_metrics_expose_outcomes_lock_waits_and_inventory(client, buyer):
    await send_event(client, 1, capacity=2)
    booking = (await buyer(1).hold(1, 2))[1]
    await buyer(2).hold(1, 1)
    await buyer(1).confirm(booking["id"])

    async def exported() -> bool:
        text = await (await client.get("/metrics")).text()
        return 'evently_inventory_sold_seats{event_id="1"} 2.0' in text

    await eventually(exported)
    text = await (await client.get("/metrics")).text()
    for line in (
        'evently_bookings_total{outcome="held"}',
        'evently_bookings_total{outcome="sold_out"}',
        'evently_bookings_lock_wait_seconds_count{operation="hold"}',
        "evently_bookings_confirmations_total",
        "evently_bookings_expiry_last_run_timestamp_seconds",
        'evently_inventory_available_seats{event_id="1"} 0.0',
    ):
        assert line in text, line


def test_inventory_gauges_keep_only_on_sale_events_within_the_limit():
    gauges = InventoryGauges(limit=2)
    state = {"sold": 1, "held": 0, "available": 5, "on_sale": True}
    for event_id in (901, 902, 903):
        gauges.update({"event_id": event_id, **state})
    assert list(gauges._events) == [902, 903]
    gauges.update({"event_id": 903, **state, "on_sale": False})
    assert list(gauges._events) == [902]


async def test_a_closed_sale_drops_its_series(client):
    closed = iso(datetime.now(UTC) - timedelta(minutes=1))
    await send_event(client, 5, capacity=3)
    await send_event(client, 5, version=2, capacity=3, sale_closes_at=closed)
    text = await (await client.get("/metrics")).text()
    assert 'evently_inventory_available_seats{event_id="5"}' not in text
