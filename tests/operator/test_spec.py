"""Reading a resource's spec, and the rules the CRD schema cannot express."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from evently_operator.spec import (
    SpecError,
    check_spec,
    parse_duration,
    parse_spec,
    read_valid_spec,
    spec_warnings,
    to_event_input,
)
from tests.operator.conftest import sample


def concert() -> dict:
    return sample("concert")["spec"]


def test_the_concert_sample_reads_into_plain_values():
    spec = read_valid_spec(concert())
    assert spec.title == "Aurora Live 2027"
    assert spec.price == Decimal("89.90") and spec.currency == "EUR"
    assert spec.starts_at == dt.datetime(2027, 6, 12, 18, tzinfo=dt.UTC)
    assert spec.hold_ttl_seconds == 600 and spec.waitlist_offer_ttl_seconds == 900
    assert spec.scaling.deployment == "evently-bookings"
    assert spec.scaling.lead_time == dt.timedelta(minutes=15)
    assert spec.scaling.cooldown == dt.timedelta(hours=2)
    assert spec.published is True


def test_defaults_fill_what_the_minimal_sample_leaves_out():
    spec = read_valid_spec(sample("minimal")["spec"])
    assert (spec.sale_opens_at, spec.sale_closes_at, spec.scaling) == (None, None, None)
    assert spec.sale_ends_at == spec.ends_at  # no closing time: the sale runs to the end
    assert (spec.hold_ttl_seconds, spec.waitlist_enabled, spec.published) == (600, True, True)
    data = to_event_input(spec, status="published")
    assert data.max_per_user == 10 and data.description == ""


def test_max_per_user_defaults_to_the_capacity_of_a_small_event():
    raw = {**concert(), "capacity": 4}
    raw.pop("maxPerUser")
    assert to_event_input(read_valid_spec(raw), status="draft").max_per_user == 4


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2h", 7200), ("0s", 0)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5d", "1m1h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("change", "reason", "fragment"),
    [
        ({"endsAt": "2027-06-12T17:00:00Z"}, "EndsBeforeStart", "spec.endsAt"),
        (
            {"sale": {"opensAt": "2027-03-01T09:00:00Z", "closesAt": "2027-02-01T09:00:00Z"}},
            "SaleClosesBeforeOpening",
            "spec.sale.closesAt (2027-02-01T09:00:00Z) must be after spec.sale.opensAt",
        ),
        (
            {"sale": {"closesAt": "2027-06-13T00:00:00Z"}},
            "SaleEndsAfterEvent",
            "must not be after the event ends (spec.endsAt 2027-06-12T22:30:00Z)",
        ),
        (
            {"sale": {"opensAt": "2027-06-13T00:00:00Z"}},
            "SaleOpensAfterEvent",
            "spec.sale.opensAt",
        ),
        ({"capacity": 12001}, "CapacityAboveVenue", "spec.capacity (12001) exceeds"),
    ],
)
def test_what_the_schema_cannot_catch(change, reason, fragment):
    problems = check_spec(parse_spec({**concert(), **change}))
    assert [p.reason for p in problems] == [reason]
    assert fragment in problems[0].message


def test_baseline_replicas_is_accepted_ignored_and_warned_about():
    spec = read_valid_spec(
        {**concert(), "scaling": {"deployment": "web", "baselineReplicas": 5, "saleReplicas": 2}}
    )
    assert check_spec(spec) == []  # no longer a rule: saleReplicas may be below it
    [warning] = spec_warnings(spec)
    assert warning.reason == "BaselineReplicasIgnored"
    assert "deprecated and ignored" in warning.message
    assert spec_warnings(read_valid_spec(concert())) == []


def test_every_problem_is_reported_at_once():
    raw = {**concert(), "capacity": 20000, "endsAt": "2027-01-01T00:00:00Z"}
    with pytest.raises(SpecError) as failure:
        read_valid_spec(raw)
    reasons = {p.reason for p in failure.value.problems}
    assert {"EndsBeforeStart", "CapacityAboveVenue", "SaleEndsAfterEvent"} <= reasons


def test_a_malformed_spec_names_each_field():
    raw = {**concert(), "startsAt": "soon", "capacity": "many", "price": {"amount": "x"}}
    with pytest.raises(SpecError) as failure:
        parse_spec(raw)
    text = str(failure.value)
    assert "spec.startsAt" in text and "spec.capacity" in text and "spec.price.amount" in text


def test_the_events_services_own_rules_become_spec_problems():
    raw = {**concert(), "sale": {**concert()["sale"], "holdTTL": "2h"}}
    with pytest.raises(SpecError) as failure:
        to_event_input(read_valid_spec(raw), status="published")
    problem = failure.value.problems[0]
    assert problem.reason == "RejectedByEventsService"
    assert problem.message.startswith("spec.sale.holdTTL:")


# --- spec.sale.waitingRoom ---------------------------------------------------------------

ROOM = {
    "admissionRatePerMinute": 600,
    "maxActiveShoppers": 200,
    "sessionTTL": "5m",
    "whenSoldOut": "close",
    "prequeueOpensAt": "2027-02-28T09:00:00Z",
}


def with_room(**room) -> dict:
    raw = concert()
    return {**raw, "sale": {**raw["sale"], "waitingRoom": {**ROOM, **room}}}


def test_a_waiting_room_in_the_spec_becomes_the_events_waiting_room():
    data = to_event_input(read_valid_spec(with_room()), status="published")
    room = data.waiting_room
    assert room is not None
    assert (room.enabled, room.admission_rate_per_minute, room.max_active_shoppers) == (
        True, 600, 200,
    )  # fmt: skip
    assert (room.session_ttl_s, room.when_sold_out) == (300, "close")
    assert room.prequeue_opens_at == dt.datetime(2027, 2, 28, 9, tzinfo=dt.UTC)
    assert room.when_unavailable == "fail_closed"  # the default


def test_when_unavailable_maps_onto_the_events_failure_rule():
    data = to_event_input(
        read_valid_spec(with_room(whenUnavailable="failOpen")), status="published"
    )
    assert data.waiting_room is not None and data.waiting_room.when_unavailable == "fail_open"
    with pytest.raises(SpecError) as refused:
        read_valid_spec(with_room(whenUnavailable="maybe"))
    assert "spec.sale.waitingRoom.whenUnavailable" in refused.value.problems[0].message


def test_without_a_waiting_room_the_event_has_none_and_defaults_fill_a_minimal_one():
    assert to_event_input(read_valid_spec(concert()), status="published").waiting_room is None
    minimal = with_room()
    minimal["sale"]["waitingRoom"] = {"admissionRatePerMinute": 60, "maxActiveShoppers": 5}
    room = to_event_input(read_valid_spec(minimal), status="published").waiting_room
    assert (room.session_ttl_s, room.when_sold_out, room.prequeue_opens_at) == (
        600, "offer_waitlist", None,
    )  # fmt: skip


def test_a_malformed_waiting_room_names_its_spec_field():
    with pytest.raises(SpecError) as refused:
        read_valid_spec(with_room(whenSoldOut="panic", maxActiveShoppers=0))
    messages = " ".join(p.message for p in refused.value.problems)
    assert "spec.sale.waitingRoom.whenSoldOut" in messages
    assert "spec.sale.waitingRoom.maxActiveShoppers" in messages


def test_a_waiting_room_the_events_service_refuses_names_its_spec_field():
    late = with_room(prequeueOpensAt="2027-06-01T00:00:00Z")  # after the sale opens
    with pytest.raises(SpecError) as refused:
        to_event_input(read_valid_spec(late), status="published")
    (problem,) = refused.value.problems
    assert problem.message.startswith("spec.sale.waitingRoom.prequeueOpensAt:")
    short = with_room(sessionTTL="5s")
    with pytest.raises(SpecError) as refused:
        to_event_input(read_valid_spec(short), status="published")
    (problem,) = refused.value.problems
    assert problem.message.startswith("spec.sale.waitingRoom.sessionTTL:")


# --- spec.sale.requireVerifiedEmail and spec.sale.holdExpiryReminder ----------------------


def with_sale(**sale) -> dict:
    raw = concert()
    return {**raw, "sale": {**raw["sale"], **sale}}


def test_the_hold_policies_in_the_spec_become_the_events_fields():
    raw = with_sale(requireVerifiedEmail=True, holdExpiryReminder="2m30s")
    data = to_event_input(read_valid_spec(raw), status="published")
    assert (data.require_verified_email, data.hold_expiry_reminder_s) == (True, 150)


def test_without_the_hold_policies_anyone_may_hold_and_no_reminder_is_mailed():
    data = to_event_input(read_valid_spec(concert()), status="published")
    assert (data.require_verified_email, data.hold_expiry_reminder_s) == (False, None)


def test_malformed_hold_policies_name_their_spec_fields():
    with pytest.raises(SpecError) as refused:
        parse_spec(with_sale(requireVerifiedEmail="yes", holdExpiryReminder="soon"))
    messages = " ".join(p.message for p in refused.value.problems)
    assert "spec.sale.requireVerifiedEmail" in messages
    assert "spec.sale.holdExpiryReminder" in messages


def test_a_reminder_the_events_service_refuses_names_its_spec_field():
    with pytest.raises(SpecError) as refused:
        to_event_input(read_valid_spec(with_sale(holdExpiryReminder="10s")), status="published")
    (problem,) = refused.value.problems
    assert problem.message.startswith("spec.sale.holdExpiryReminder:")
