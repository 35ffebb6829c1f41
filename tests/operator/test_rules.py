"""Phases, scaling windows and conditions: the operator's plain rules."""

from __future__ import annotations

import datetime as dt

import pytest

from evently_operator.conditions import READY, SYNCED, Condition, merge_conditions
from evently_operator.phases import Phase, sale_phase
from evently_operator.scaling import (
    ScaleChange,
    causes_of,
    next_boundary,
    open_claims,
    scaling_window,
    wanted_replicas,
)
from evently_operator.spec import read_valid_spec
from tests.operator.conftest import sample

OPENS = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)
CLOSES = dt.datetime(2027, 6, 12, 16, tzinfo=dt.UTC)


def concert(**changes):
    return read_valid_spec({**sample("concert")["spec"], **changes})


@pytest.mark.parametrize(
    ("now", "available", "phase"),
    [
        (OPENS - dt.timedelta(seconds=1), None, Phase.SCHEDULED),
        (OPENS, None, Phase.ON_SALE),
        (OPENS, 10, Phase.ON_SALE),
        (OPENS, 0, Phase.SOLD_OUT),
        (CLOSES - dt.timedelta(seconds=1), 0, Phase.SOLD_OUT),
        (CLOSES, 0, Phase.CLOSED),
        (CLOSES, 5, Phase.CLOSED),
    ],
)
def test_the_phase_follows_the_clock_and_availability(now, available, phase):
    assert sale_phase(concert(), now, available=available) is phase


def test_a_draft_is_pending_and_a_cancelled_event_is_cancelled():
    assert sale_phase(concert(published=False), OPENS) is Phase.PENDING
    assert sale_phase(concert(), OPENS, cancelled=True) is Phase.CANCELLED


def window(name, opens_h, closes_h, sale, lead="0s", cooldown="0s"):
    base = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    spec = concert(
        sale={"opensAt": (base + dt.timedelta(hours=opens_h)).isoformat(),
              "closesAt": (base + dt.timedelta(hours=closes_h)).isoformat()},
        scaling={"deployment": "web", "saleReplicas": sale, "leadTime": lead,
                 "cooldown": cooldown},
    )  # fmt: skip
    return scaling_window(name, spec)


def at(hours: float) -> dt.datetime:
    return dt.datetime(2027, 6, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hours)


def test_the_window_is_widened_by_lead_time_and_cooldown():
    w = window("a", 10, 12, 8, lead="1h", cooldown="30m")
    assert not w.covers(at(8.99)) and w.covers(at(9)) and w.covers(at(12.49))
    assert not w.covers(at(12.5))


def test_open_windows_want_their_largest_figure_and_none_outside_every_window():
    windows = [window("a", 10, 12, 8), window("b", 11, 14, 5)]
    wanted = [wanted_replicas(windows, at(h)) for h in (9, 10, 11, 12, 13, 14)]
    assert wanted == [None, 8, 8, 5, 5, None]
    assert wanted_replicas([], at(9)) is None


def test_the_next_boundary_is_the_first_window_edge_ahead():
    windows = [window("a", 10, 12, 8), window("b", 11, 14, 5)]
    assert next_boundary(windows, at(9)) == at(10)
    assert next_boundary(windows, at(11)) == at(12)
    assert next_boundary(windows, at(14)) is None


def test_a_scale_change_is_caused_by_the_window_that_opened_or_ended():
    big, long = window("big", 10, 12, 8), window("long", 11, 14, 5)
    claims = [big, long]
    up, down = ScaleChange("Deployment", "web", 2, 8), ScaleChange("Deployment", "web", 8, 2, True)
    assert causes_of(up, claims, frozenset(), at(10)) == (big,)
    # Raised again (someone lowered it) while both are open: the larger figure decides.
    assert causes_of(up, claims, open_claims(claims, at(11)), at(11)) == (big,)
    # Given back when the last window ends: the claim open at the previous pass.
    assert causes_of(down, claims, open_claims(claims, at(13)), at(14)) == (long,)
    # ... or whose Event went away (deleted, Invalid, no scaling): no longer a claim.
    assert causes_of(down, [big], open_claims(claims, at(13)), at(13)) == (long,)
    # No previous pass (a restart): the claims whose windows ended last.
    assert causes_of(down, claims, None, at(15)) == (long,)
    assert causes_of(down, [], None, at(15)) == ()  # the caller announces it


def test_conditions_keep_their_transition_time_until_their_status_flips():
    t1 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    t2 = t1 + dt.timedelta(minutes=5)
    first = merge_conditions(
        [], [Condition(READY, True, "OnSale", "a"), Condition(SYNCED, True, "Created", "b")],
        generation=1, now=t1,
    )  # fmt: skip
    second = merge_conditions(first, [Condition(READY, True, "SoldOut", "c")], generation=2, now=t2)
    third = merge_conditions(second, [Condition(READY, False, "X", "d")], generation=2, now=t2)
    assert [c["type"] for c in first] == [READY, SYNCED]
    assert second[0]["lastTransitionTime"] == "2027-01-01T00:00:00Z"
    assert (second[0]["reason"], second[0]["observedGeneration"]) == ("SoldOut", 2)
    assert third[0]["lastTransitionTime"] == "2027-01-01T00:05:00Z"
    assert second[1] == first[1]  # untouched conditions stay as they were


def test_the_sweep_asks_for_a_pass_only_when_something_moved():
    from evently.events.repository import ManagedState
    from evently_operator.levels import why_pass

    spec = concert()
    row = ManagedState(id=7, version=3, status="published", sold=None, held=None, available=None)
    status = {"observedGeneration": 2, "eventId": 7, "eventVersion": 3, "phase": "Scheduled"}
    before = OPENS - dt.timedelta(hours=1)

    def why(status=status, generation=2, spec=spec, row=row, now=before, scaled=None):
        return why_pass(status, generation, spec, row, now, scaled)

    assert why() is None
    assert why(generation=3) is None  # a spec change: kopf's update handler runs
    assert why(status={}) is None  # never reconciled: kopf's create handler runs
    assert why(row=None) == "row-missing"
    assert why(row=row._replace(version=4)) == "row-changed"
    assert why(now=OPENS) == "phase"  # the sale opened
    assert why(row=row._replace(sold=1, held=0, available=9999)) == "figures"
    assert why(scaled="SaleWindowOpen") == "scaling"
    assert why(spec=None) is None  # Invalid waits for a new spec
    assert why(spec=None, status={**status, "scaledDeployment": "web"}) == "scaling"
