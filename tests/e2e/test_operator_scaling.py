"""The operator's scaling rule on running pods (issue 14 on the real node).

The bookings Deployment starts at values-e2e.yaml's count (2). The generated Events carry
the deprecated ``baselineReplicas: 1`` and ask for 3 during their window, so a restore
to the baseline, a lowering outside the window, or replicas kept at the sale figure all
show. Each scenario raises bookings with a pod that really becomes Ready, then:

- the sale window ends by the clock: exactly the recorded count comes back;
- ``spec.scaling`` is removed mid-window (issue 14's defect 2): the same;
- the Event is deleted mid-window: its finalizer gives the count back before it goes.

Each time the record annotation (``evently.io/recorded-replicas``) is gone afterwards.
Windows are made short by patching the sale dates, as ``kubectl evently open-sale`` and
``close-sale`` do, so no scenario waits for a fixed schedule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.e2e.conftest import Release, load_values
from tests.e2e.event_resources import (
    apply_event,
    condition_reason,
    event_status,
    generated_event,
    iso,
    posted_on_any,
)
from tests.e2e.node import Stages, wait_for

RECORD = "evently.io/recorded-replicas"
SALE_REPLICAS, BASELINE = 3, 1
LEAD = timedelta(minutes=15)
# Each scenario: a scale-up whose new pod starts on the 2 busy cores, and a restore.
BUDGET_S = 300
EVENTS = ("e2e-rush", "e2e-unclaimed", "e2e-deleted")


def scaling() -> dict[str, Any]:
    return {"deployment": "evently-bookings", "baselineReplicas": BASELINE,
            "saleReplicas": SALE_REPLICAS, "leadTime": "15m"}  # fmt: skip


def in_window(name: str) -> dict[str, Any]:
    """An Event whose scaling window is open from the moment it is applied, ahead of its
    sale (which opens in 10 minutes)."""
    now = datetime.now(UTC)
    return generated_event(
        name, starts=now + timedelta(days=3), opens=now + timedelta(minutes=10),
        closes=now + timedelta(days=2), scaling=scaling(),
    )  # fmt: skip


@dataclass(frozen=True)
class Bookings:
    """The bookings Deployment of the release, as the operator scales it."""

    release: Release
    start: int  # its replicas before any claim

    @property
    def name(self) -> str:
        return self.release.component("bookings")

    def deployment(self) -> dict[str, Any]:
        return self.release.node.kubectl_json(
            "-n", self.release.namespace, "get", "deployment", self.name
        )

    def recorded(self) -> str | None:
        return (self.deployment()["metadata"].get("annotations") or {}).get(RECORD)

    def ready(self) -> list[str]:
        return self.release.node.ready_pods(
            self.release.namespace, self.release.selector("bookings")
        )

    def raised(self, event: str, timeout: float) -> list[str]:
        """Wait until ``event``'s claim has raised bookings to the sale figure with every
        pod Ready; the Ready pods."""
        before = set(self.ready())
        wait_for(
            f"{self.name} raised to {SALE_REPLICAS} for {event}",
            lambda: self.deployment()["spec"]["replicas"] == SALE_REPLICAS,
            timeout,
            interval=2,
        )
        assert self.recorded() == str(self.start), "the count before the claim is recorded"
        pods = wait_for(
            f"{SALE_REPLICAS} Ready bookings pods",
            lambda: pods if len(pods := self.ready()) == SALE_REPLICAS else None,
            timeout,
            interval=2,
        )
        assert set(pods) - before, "a new pod runs for the sale"
        return pods

    def given_back(self, why: str, timeout: float) -> datetime:
        """Wait until exactly the recorded count is back and the record gone; when."""

        def back() -> datetime | None:
            deployment = self.deployment()
            annotations = deployment["metadata"].get("annotations") or {}
            if deployment["spec"]["replicas"] == self.start and RECORD not in annotations:
                return datetime.now(UTC)
            return None

        return wait_for(f"{self.name} back to {self.start} ({why})", back, timeout, interval=2)

    def settled(self, timeout: float) -> None:
        """The ReplicaSet runs exactly the restored count again (the sale pod ends)."""
        wait_for(
            f"{self.name} running {self.start} pods",
            lambda: self.deployment()["status"].get("replicas") == self.start,
            timeout,
            interval=2,
        )


@pytest.fixture(scope="module")
def bookings(release: Release) -> Iterator[Bookings]:
    start = int(load_values()["services"]["bookings"]["replicas"])
    assert start not in (BASELINE, SALE_REPLICAS), "the test could not tell them apart"
    found = Bookings(release, start)
    # Not lowered to any baseline outside every window (the sample claims bookings too).
    assert found.deployment()["spec"]["replicas"] == start, "bookings changed before any claim"
    assert found.recorded() is None
    yield found
    # A failed scenario must not leave the resilience tests a raised bookings.
    node, namespace = release.node, release.namespace
    for name in EVENTS:
        node.kubectl("-n", namespace, "delete", "evt", name, "--ignore-not-found",
                     "--timeout=120s", check=False, timeout=150)  # fmt: skip
    if found.deployment()["spec"]["replicas"] != start or found.recorded() is not None:
        patch = {"metadata": {"annotations": {RECORD: None}}, "spec": {"replicas": start}}
        node.kubectl("-n", namespace, "patch", "deployment", found.name, "--type=merge",
                     "-p", json.dumps(patch))  # fmt: skip


def apply(release: Release, manifest: dict[str, Any]) -> str:
    """kubectl apply; what kubectl printed on stderr (the webhook's warnings)."""
    return apply_event(release, manifest).stderr


def patch_event(release: Release, name: str, kind: str, patch: Any) -> None:
    release.node.kubectl(
        "-n", release.namespace, "patch", "evt", name, f"--type={kind}", "-p", json.dumps(patch)
    )


def move_sale(
    release: Release, name: str, *, opens: datetime, closes: datetime | None = None
) -> None:
    """Move the sale window (``kubectl evently open-sale``/``close-sale`` do the same)."""
    sale = {"opensAt": iso(opens), **({"closesAt": iso(closes)} if closes else {})}
    patch_event(release, name, "merge", {"spec": {"sale": sale}})


def scaled_reason(release: Release, name: str) -> str | None:
    return condition_reason(event_status(release, name), "Scaled")


def test_after_the_sale_window_bookings_gets_back_exactly_what_it_had(
    release: Release, bookings: Bookings, stages: Stages
) -> None:
    with stages.stage("operator: window opens, ends, restores", BUDGET_S) as stage:
        now = datetime.now(UTC)
        rush = generated_event(
            "e2e-rush", starts=now + timedelta(days=3), opens=now + timedelta(days=2),
            closes=now + timedelta(days=2, hours=12), scaling=scaling(),
        )  # fmt: skip
        warnings = apply(release, rush)
        # Outside the window the operator looks (the row and the Scaled condition come in
        # one status patch) and leaves bookings alone: not lowered to the baseline (as
        # before issue 14), nothing recorded.
        wait_for("e2e-rush's row", lambda: event_status(release, "e2e-rush").get("eventId"), 120)
        assert bookings.deployment()["spec"]["replicas"] == bookings.start
        assert bookings.recorded() is None
        status = event_status(release, "e2e-rush")
        assert condition_reason(status, "Scaled") == "OutsideSaleWindow"
        assert condition_reason(status, "Deprecated") == "BaselineReplicasIgnored"
        assert "baselineReplicas is deprecated" in warnings, warnings  # the webhook said so

        # The window opens ahead of the sale (opens in 10 minutes, 15 minutes' lead).
        move_sale(release, "e2e-rush", opens=datetime.now(UTC) + timedelta(minutes=10))
        bookings.raised("e2e-rush", stage.budget_s)
        status = event_status(release, "e2e-rush")
        assert status["phase"] == "Scheduled", "raised before the sale opens"
        assert status["scaledDeployment"] == bookings.name
        wait_for(
            "Scaled: SaleWindowOpen",
            lambda: scaled_reason(release, "e2e-rush") == "SaleWindowOpen",
            60,
        )
        up = f"Deployment {bookings.name}: replicas {bookings.start} -> {SALE_REPLICAS}"
        assert up in posted_on_any(release, "ScaledUp")

        # The new pod is Ready inside the window; now the window ends, by the clock,
        # a few seconds from now (the sale opens now and closes at once, no cooldown).
        closes = datetime.now(UTC) + timedelta(seconds=15)
        move_sale(release, "e2e-rush", opens=datetime.now(UTC), closes=closes)
        restored_at = bookings.given_back("the window ended", stage.budget_s)
        assert restored_at >= closes.replace(microsecond=0), "given back by the window's end"
        down = (f"Deployment {bookings.name}: replicas {SALE_REPLICAS} -> {bookings.start} "
                "(restored as recorded when the sale window began)")  # fmt: skip
        wait_for("the ScaledDown Event", lambda: down in posted_on_any(release, "ScaledDown"), 60)
        wait_for(
            "Scaled: OutsideSaleWindow",
            lambda: scaled_reason(release, "e2e-rush") == "OutsideSaleWindow",
            60,
        )
        bookings.settled(stage.budget_s)


def test_removing_spec_scaling_mid_window_gives_the_replicas_back(
    release: Release, bookings: Bookings, stages: Stages
) -> None:
    with stages.stage("operator: scaling removed mid-window", BUDGET_S) as stage:
        apply(release, in_window("e2e-unclaimed"))
        bookings.raised("e2e-unclaimed", stage.budget_s)
        # Issue 14's repro: before the fix, bookings stayed at the sale figure for good.
        patch_event(release, "e2e-unclaimed", "json",
                    [{"op": "remove", "path": "/spec/scaling"}])  # fmt: skip
        bookings.given_back("spec.scaling removed", stage.budget_s)
        wait_for(
            "scaledDeployment cleared",
            lambda: "scaledDeployment" not in event_status(release, "e2e-unclaimed"),
            60,
        )
        assert scaled_reason(release, "e2e-unclaimed") is None
        bookings.settled(stage.budget_s)


def test_deleting_the_event_mid_window_gives_the_replicas_back_before_it_goes(
    release: Release, bookings: Bookings, stages: Stages
) -> None:
    node, namespace = release.node, release.namespace
    with stages.stage("operator: deleted mid-window", BUDGET_S) as stage:
        apply(release, in_window("e2e-deleted"))
        event_id = wait_for(
            "e2e-deleted's row", lambda: event_status(release, "e2e-deleted").get("eventId"), 120
        )
        bookings.raised("e2e-deleted", stage.budget_s)
        node.kubectl("-n", namespace, "delete", "evt", "e2e-deleted", "--timeout=120s",
                     timeout=150)  # fmt: skip
        gone = node.kubectl("-n", namespace, "get", "evt", "e2e-deleted", check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
        # The finalizer gave the count back before it let the resource go.
        deployment = bookings.deployment()
        assert deployment["spec"]["replicas"] == bookings.start
        assert RECORD not in (deployment["metadata"].get("annotations") or {})
        assert release.psql(f"select status from events.events where id = {event_id}") == (
            "cancelled"
        )
        bookings.settled(stage.budget_s)
