"""Level-based reconciliation repairs rows changed behind the operator's back."""

from __future__ import annotations

from decimal import Decimal

from tests.operator.conftest import event_manifest, row_of, wait_for


async def test_a_row_edited_behind_the_operators_back_is_restored(
    operator, resources, db, namespace
):
    resources.apply(event_manifest("steady", capacity=100))
    event_id = await wait_for(lambda: resources.status("steady").get("eventId"), what="eventId")
    await db.execute(
        "UPDATE events.events SET name = 'Tampered', price = 1, capacity = 50, "
        "version = version + 1 WHERE id = $1",
        event_id,
    )

    async def restored():
        row = await row_of(db, namespace, "steady")
        return row if row.name == "Test event steady" else None

    row = await wait_for(restored, what="the row restored")
    assert (row.id, row.capacity, row.price, row.version) == (event_id, 100, Decimal("25.00"), 3)
    # The repair went through the repository: its outbox message carries the restored state.
    payload = await db.fetchval(
        "SELECT payload FROM events.outbox WHERE key = $1 ORDER BY id DESC LIMIT 1",
        str(event_id),
    )
    assert (payload["version"], payload["name"], payload["capacity"]) == (3, row.name, 100)
    await wait_for(lambda: "DriftRepaired" in resources.reasons("steady"), what="DriftRepaired")
    assert operator.metric("evently_operator_drift_repairs_total", kind="edited") >= 1


async def test_a_deleted_row_is_recreated(operator, resources, db, namespace):
    resources.apply(event_manifest("phoenix"))
    first_id = await wait_for(lambda: resources.status("phoenix").get("eventId"), what="eventId")
    await db.execute("DELETE FROM events.events WHERE id = $1", first_id)

    async def recreated():
        return await row_of(db, namespace, "phoenix")

    row = await wait_for(recreated, what="a new row")
    assert row.id != first_id and row.name == "Test event phoenix"
    await wait_for(
        lambda: resources.status("phoenix").get("eventId") == row.id, what="status.eventId"
    )
    await wait_for(
        lambda: any(
            e["reason"] == "DriftRepaired" and "recreated" in e["message"]
            for e in resources.k8s_events("phoenix")
        ),
        what="a DriftRepaired event",
    )
    assert operator.metric("evently_operator_drift_repairs_total", kind="deleted") >= 1
