"""An Event resource's life: apply, update, invalid specs, delete."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from evently.events import repository
from evently_operator.reconcile import row_matches
from evently_operator.spec import read_valid_spec, to_event_input
from tests.operator.conftest import SAMPLES, event_manifest, iso_in, row_of, sample, wait_for


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def outbox_messages(db, event_id: int) -> list[dict]:
    rows = await db.fetch(
        "SELECT consumer, version, payload FROM events.outbox WHERE key = $1 ORDER BY id",
        str(event_id),
    )
    return [dict(r) for r in rows]


async def test_applying_the_concert_sample_writes_a_row_with_every_field(
    operator, resources, db, namespace
):
    manifest = sample("concert")
    resources.apply(manifest)
    status = await wait_for(
        lambda: (
            resources.status("aurora-live-2027").get("eventId")
            and resources.status("aurora-live-2027")
        ),
        what="status.eventId",
    )
    row = await row_of(db, namespace, "aurora-live-2027")
    assert row is not None
    spec = manifest["spec"]
    assert status["eventId"] == row.id
    assert (row.name, row.description, row.type) == (spec["title"], spec["description"], "concert")
    assert row.starts_at == utc(spec["startsAt"]) and row.ends_at == utc(spec["endsAt"])
    assert row.capacity == 10000
    assert (row.price, row.currency) == (Decimal("89.90"), "EUR")
    assert row.status == "published"
    assert row.sale_opens_at == utc(spec["sale"]["opensAt"])
    assert row.sale_closes_at == utc(spec["sale"]["closesAt"])
    assert row.max_per_user == 4
    assert (row.hold_ttl_seconds, row.waitlist_enabled, row.waitlist_offer_ttl_seconds) == (
        600,
        True,
        900,
    )
    venue = spec["venue"]
    assert (row.venue.name, row.venue.address, row.venue.city, row.venue.capacity) == (
        venue["name"],
        venue["address"],
        venue["city"],
        venue["capacity"],
    )
    assert row.managed_by == f"kubernetes:{namespace}/aurora-live-2027"
    assert row.version == 1
    # The same outbox the HTTP API uses: one event.changed message (the relay routes it).
    messages = await outbox_messages(db, row.id)
    assert {m["version"] for m in messages} == {1}
    assert all(m["payload"]["managed_by"] == row.managed_by for m in messages)

    body = resources.get("aurora-live-2027")
    assert "evently.io/cancel-event" in body["metadata"]["finalizers"]
    assert status["phase"] == "Scheduled"  # the sale opens in 2027
    assert status["observedGeneration"] == body["metadata"]["generation"]
    synced = next(c for c in status["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("True", "Created")
    invalid = next(c for c in status["conditions"] if c["type"] == "Invalid")
    assert invalid["status"] == "False"
    await wait_for(lambda: "Created" in resources.reasons("aurora-live-2027"), what="Created event")
    created = next(e for e in resources.k8s_events("aurora-live-2027") if e["reason"] == "Created")
    # `kubectl describe` says who posted it ("From"): the operator, not the framework.
    assert created["source"]["component"] == "evently-operator"
    assert created["reportingComponent"] == "evently-operator"

    table = resources.kube.kubectl("-n", namespace, "get", "evt").stdout
    assert table.split("\n")[0].split() == [
        "NAME", "PHASE", "READY", "SOLD", "AVAILABLE", "CAPACITY", "QUEUE", "STARTS", "OPENS",
        "AGE",
    ]  # fmt: skip
    row = table.split("\n")[1].split()
    # Ready is False here: the sample's scale target (evently-bookings) does not exist.
    assert row[:3] == ["aurora-live-2027", "Scheduled", "False"]
    assert row[6:8] == ["2027-06-12T18:00:00Z", "2027-03-01T09:00:00Z"]


async def test_the_minimal_sample_gets_the_documented_defaults(operator, resources, db, namespace):
    resources.apply(sample("minimal"))
    await wait_for(lambda: resources.status("open-mic-night").get("eventId"), what="eventId")
    row = await row_of(db, namespace, "open-mic-night")
    assert row.status == "published"
    assert (row.sale_opens_at, row.sale_closes_at) == (None, None)
    assert (row.max_per_user, row.hold_ttl_seconds) == (10, 600)
    assert (row.waitlist_enabled, row.waitlist_offer_ttl_seconds) == (True, 900)
    assert row.description == ""
    # No opening time: on sale at once, until the event ends.
    assert resources.status("open-mic-night")["phase"] == "OnSale"


async def test_an_update_changes_the_row_and_bumps_its_version(operator, resources, db, namespace):
    resources.apply(event_manifest("gig", capacity=100))
    first = await wait_for(lambda: resources.status("gig").get("eventId"), what="eventId")
    resources.patch(
        "gig",
        {"spec": {"title": "Gig (second show)", "capacity": 150,
                  "price": {"amount": "30.50", "currency": "EUR"}, "published": False}},
    )  # fmt: skip

    async def updated():
        row = await row_of(db, namespace, "gig")
        return row if row and row.version == 2 else None

    row = await wait_for(updated, what="version 2")
    assert row.id == first
    assert (row.name, row.capacity, row.price) == ("Gig (second show)", 150, Decimal("30.50"))
    assert row.status == "draft"
    messages = await outbox_messages(db, row.id)
    assert sorted({m["version"] for m in messages}) == [1, 2]
    status = await wait_for(
        lambda: (s := resources.status("gig")).get("observedGeneration") == 2 and s,
        what="observedGeneration 2",
    )
    assert status["phase"] == "Pending"  # unpublished: a draft
    await wait_for(lambda: "Updated" in resources.reasons("gig"), what="Updated event")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"title": None}, "title"),
        ({"capacity": 0}, "spec.capacity"),
        ({"price": {"amount": "12,50", "currency": "EUR"}}, "spec.price.amount"),
        ({"price": {"amount": "12.50", "currency": "eur"}}, "spec.price.currency"),
        ({"startsAt": "next friday"}, "spec.startsAt"),
        ({"sale": {"holdTTL": "ten minutes"}}, "spec.sale.holdTTL"),
        ({"maxPerUser": 0}, "spec.maxPerUser"),
        ({"venue": {"name": "Hall", "city": "X", "capacity": 10}}, "address"),
        ({"title": "x" * 201}, "spec.title"),
    ],
)
def test_the_schema_rejects_an_invalid_object(resources, change, complaint):
    manifest = event_manifest("bad")
    for key, value in change.items():
        if value is None:
            manifest["spec"].pop(key)
        else:
            manifest["spec"][key] = value
    result = resources.try_apply(manifest)
    assert result.returncode != 0
    assert "is invalid" in result.stderr and complaint in result.stderr, result.stderr
    assert resources.get("bad") is None


async def test_a_spec_the_schema_cannot_catch_is_invalid_and_writes_nothing(
    operator, resources, db, namespace
):
    cases = {
        "closes-first": (
            event_manifest("closes-first", opens_in=600, closes_in=300),
            "SaleClosesBeforeOpening",
            "spec.sale.closesAt",
        ),
        "sells-late": (
            event_manifest("sells-late", opens_in=60, closes_in=9000, ends_in=7200),
            "SaleEndsAfterEvent",
            "must not be after the event ends",
        ),
        "too-big": (
            event_manifest("too-big", capacity=500, venue={"name": "Tiny", "address": "2 Road",
                           "city": "Testville", "capacity": 300}),
            "CapacityAboveVenue",
            "spec.capacity (500) exceeds spec.venue.capacity (300)",
        ),
    }  # fmt: skip
    for manifest, _, _ in cases.values():
        resources.apply(manifest)
    for name, (_, reason, text) in cases.items():
        status = await wait_for(
            lambda name=name: (s := resources.status(name)).get("phase") == "Invalid" and s,
            what=f"{name} Invalid",
        )
        invalid = next(c for c in status["conditions"] if c["type"] == "Invalid")
        assert (invalid["status"], invalid["reason"]) == ("True", reason)
        assert text in invalid["message"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and "nothing was written" in ready["message"]
        assert "eventId" not in status
        await wait_for(lambda name=name: "InvalidSpec" in resources.reasons(name), what="warning")
        warning = next(e for e in resources.k8s_events(name) if e["reason"] == "InvalidSpec")
        assert warning["type"] == "Warning" and text in warning["message"]
        assert await row_of(db, namespace, name) is None
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 0

    # Fixing the spec brings it to life; deleting an Invalid resource completes.
    resources.patch("too-big", {"spec": {"capacity": 250}})
    await wait_for(lambda: resources.status("too-big").get("eventId"), what="too-big written")
    status = resources.status("too-big")
    assert status["phase"] == "OnSale"  # no opening time: on sale at once
    assert next(c for c in status["conditions"] if c["type"] == "Invalid")["status"] == "False"
    resources.delete("closes-first")
    await wait_for(lambda: resources.get("closes-first") is None, what="deletion")


async def test_deleting_cancels_the_row_and_clears_the_finalizer(
    operator, resources, db, namespace
):
    resources.apply(event_manifest("farewell", opens_in=-60))
    event_id = await wait_for(lambda: resources.status("farewell").get("eventId"), what="eventId")
    resources.delete("farewell")
    await wait_for(lambda: resources.get("farewell") is None, what="the resource to go")
    row = await repository.get_event(db, event_id)
    # Cancelled and released: the name is free for a new resource (and a new event).
    assert (row.status, row.version, row.managed_by) == ("cancelled", 2, None)
    assert await row_of(db, namespace, "farewell") is None
    messages = await outbox_messages(db, event_id)
    assert list(dict.fromkeys(m["payload"]["status"] for m in messages)) == [
        "published",
        "cancelled",
    ]


async def test_deleting_when_the_row_is_already_gone_still_completes(
    start_operator, resources, db, namespace
):
    first = start_operator()
    resources.apply(event_manifest("vanished"))
    event_id = await wait_for(lambda: resources.status("vanished").get("eventId"), what="eventId")
    first.stop()
    await db.execute("DELETE FROM events.events WHERE id = $1", event_id)
    resources.delete("vanished")
    assert resources.get("vanished")["metadata"]["deletionTimestamp"]  # held by the finalizer
    start_operator()
    await wait_for(lambda: resources.get("vanished") is None, what="the resource to go")
    assert await row_of(db, namespace, "vanished") is None


async def test_delete_then_reapply_the_same_name_is_a_new_event(operator, resources, db):
    manifest = sample("minimal")
    resources.apply(manifest)
    first = await wait_for(lambda: resources.status("open-mic-night").get("eventId"), what="id")
    resources.delete("open-mic-night")
    await wait_for(lambda: resources.get("open-mic-night") is None, what="the resource to go")
    resources.apply(manifest)  # what GitOps does after a prune, or kubectl by hand
    status = await wait_for(
        lambda: (s := resources.status("open-mic-night")).get("eventId") not in (None, first) and s,
        what="a new eventId",
    )
    assert status["phase"] == "OnSale"  # not Cancelled: the old row is not adopted
    synced = next(c for c in status["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("True", "Created")
    old, new = (
        await repository.get_event(db, first),
        await repository.get_event(db, status["eventId"]),
    )
    assert (old.status, old.managed_by) == ("cancelled", None)
    assert (
        new.status == "published"
        and new.managed_by == f"kubernetes:{resources.namespace}/open-mic-night"
    )


async def test_a_cancelled_row_left_by_a_force_deleted_resource_is_not_adopted(
    start_operator, resources, db, namespace
):
    first_operator = start_operator()
    manifest = event_manifest("forced")
    resources.apply(manifest)
    first = await wait_for(lambda: resources.status("forced").get("eventId"), what="eventId")
    first_operator.stop()
    # Cancelled outside Kubernetes, then the resource removed without its finalizer.
    await repository.cancel_event(db, first, actor_managed_by=f"kubernetes:{namespace}/forced")
    resources.delete("forced")
    resources.patch("forced", {"metadata": {"finalizers": None}})
    await wait_for(lambda: resources.get("forced") is None, what="the resource to go")

    start_operator()
    resources.apply(manifest)
    status = await wait_for(
        lambda: (s := resources.status("forced")).get("eventId") not in (None, first) and s,
        what="a new eventId",
    )
    assert status["phase"] == "OnSale"
    old = await repository.get_event(db, first)
    assert (old.status, old.managed_by) == ("cancelled", None)


async def test_the_samples_applied_as_documented_land_where_the_operator_watches(
    kube, start_operator
):
    # The README's path: `helm install -n evently` (the operator watches its release
    # namespace), then `kubectl apply -f manifests/samples/...` with no -n.
    kube.kubectl("create", "namespace", "evently", check=False)
    start_operator(WATCH_NAMESPACES="evently")
    samples = [str(SAMPLES / "minimal.yaml"), str(SAMPLES / "concert.yaml")]
    for path in samples:
        kube.kubectl("apply", "-f", path)

    def phases() -> dict[str, str]:
        listing = kube.kubectl_json("-n", "evently", "get", "evt")
        return {
            i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in listing["items"]
        }

    try:
        await wait_for(
            lambda: phases() == {"open-mic-night": "OnSale", "aurora-live-2027": "Scheduled"},
            what="both samples reconciled in namespace evently",
        )
    finally:
        for path in samples:
            kube.kubectl("delete", "-f", path, "--wait=false", check=False)
        await wait_for(lambda: not phases(), what="the samples to go")


async def test_a_resources_waiting_room_reaches_the_row_and_a_second_pass_changes_nothing(
    operator, resources, db, namespace
):
    room = {"admissionRatePerMinute": 300, "maxActiveShoppers": 40, "sessionTTL": "2m"}
    resources.apply(event_manifest("queued", sale={"opensAt": iso_in(600), "waitingRoom": room}))
    await wait_for(lambda: resources.status("queued").get("eventId"), what="eventId")
    row = await row_of(db, namespace, "queued")
    assert row.waiting_room is not None
    assert (row.waiting_room.admission_rate_per_minute, row.waiting_room.session_ttl_s) == (
        300, 120,
    )  # fmt: skip
    data = to_event_input(read_valid_spec(resources.get("queued")["spec"]), status="published")
    assert row_matches(row, data), "the stored room must count as up to date"


async def test_a_resources_hold_policies_reach_the_row_and_a_second_pass_changes_nothing(
    operator, resources, db, namespace
):
    sale = {"requireVerifiedEmail": True, "holdExpiryReminder": "3m"}
    resources.apply(event_manifest("guarded", sale=sale))
    await wait_for(lambda: resources.status("guarded").get("eventId"), what="eventId")
    row = await row_of(db, namespace, "guarded")
    assert (row.require_verified_email, row.hold_expiry_reminder_s) == (True, 180)
    data = to_event_input(read_valid_spec(resources.get("guarded")["spec"]), status="published")
    assert row_matches(row, data), "the stored policies must count as up to date"
