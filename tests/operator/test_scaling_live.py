"""Scaling for a sale's rush, on real Deployment and HPA objects.

No kubelet runs here, so pods never start; what is checked is what the operator
controls: ``spec.replicas`` through the scale subresource, and an HPA's minReplicas.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.operator.conftest import event_manifest, wait_for


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "evently/placeholder:1"}]},
            },
        },
    }


RECORD = "evently.io/recorded-replicas"


def replicas(resources, name: str) -> int:
    return resources.get(name, kind="deployment")["spec"]["replicas"]


def record(resources, name: str, kind: str = "deployment") -> str | None:
    """The figure the operator recorded on the object (None: no record)."""
    annotations = resources.get(name, kind=kind)["metadata"].get("annotations") or {}
    return annotations.get(RECORD)


def scaling(target: str, sale: int, lead: str = "0s", cooldown: str = "0s", **extra: Any):
    return {"deployment": target, "saleReplicas": sale, "leadTime": lead,
            "cooldown": cooldown, **extra}  # fmt: skip


def deployment_reads(kube) -> float:
    """GETs of Deployments and their scale subresource the API server has answered."""
    total = 0.0
    for line in kube.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        wanted = ('resource="deployments"', 'verb="GET"')
        if line.startswith("apiserver_request_total{") and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def condition(resources, name: str, type_: str) -> dict[str, Any]:
    conditions = resources.status(name).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), {})


HPA = "hpa.v2beta2.autoscaling"


def hpa(name: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": minimum,
            "maxReplicas": maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


async def test_a_deployment_is_raised_for_the_window_and_given_back_exactly(operator, resources):
    resources.apply(deployment("shop", 3))
    # baselineReplicas is deprecated: accepted, ignored, warned about.
    resources.apply(
        event_manifest("rush", opens_in=8, closes_in=10,
                       scaling=scaling("shop", 5, lead="4s", cooldown="1s", baselineReplicas=1))
    )  # fmt: skip
    await wait_for(
        lambda: condition(resources, "rush", "Scaled").get("reason") == "OutsideSaleWindow",
        what="Scaled: OutsideSaleWindow",
    )
    # Before the window (opensAt - leadTime) nothing is touched: not lowered to "baseline" 1.
    assert (replicas(resources, "shop"), record(resources, "shop")) == (3, None)
    deprecated = condition(resources, "rush", "Deprecated")
    assert (deprecated["status"], deprecated["reason"]) == ("True", "BaselineReplicasIgnored")

    await wait_for(lambda: replicas(resources, "shop") == 5, within=15, what="5 replicas")
    assert record(resources, "shop") == "3"  # what was there when the window began
    assert resources.status("rush")["phase"] == "Scheduled"  # up before the sale opens
    await wait_for(lambda: replicas(resources, "shop") == 3, within=20, what="back to 3")
    assert record(resources, "shop") is None
    await wait_for(lambda: resources.status("rush")["phase"] == "Closed", what="Closed")
    reasons = resources.reasons("rush")
    assert "ScaledUp" in reasons and "ScaledDown" in reasons


async def test_two_overlapping_events_only_raise_and_the_last_one_gives_back(operator, resources):
    resources.apply(deployment("api", 2))
    # big: sale 8 over [3s, 7s); long: sale 5 over [4s, 10s). Expected 2 -> 8 -> 2: the
    # operator never lowers while a window is open, and restores only after the last.
    resources.apply(event_manifest("big", opens_in=3, closes_in=7, scaling=scaling("api", 8)))
    resources.apply(event_manifest("long", opens_in=4, closes_in=10, scaling=scaling("api", 5)))
    seen: list[int] = [2]  # as created

    def back_to_recorded() -> bool:
        current = replicas(resources, "api")
        if seen[-1] != current:
            seen.append(current)
        return len(seen) > 1 and current == 2

    await wait_for(back_to_recorded, within=30, what="the rush to pass")
    assert seen == [2, 8, 2]
    assert record(resources, "api") is None


async def test_an_hpa_gets_its_min_replicas_raised_and_given_back_exactly(operator, resources):
    resources.apply(deployment("search", 2))
    resources.apply(hpa("search", 3, 10))  # the prod values: minReplicas 3

    def min_replicas() -> int:
        return resources.get("search", kind=HPA)["spec"]["minReplicas"]

    resources.apply(event_manifest("hype", opens_in=3, closes_in=6, scaling=scaling("search", 12)))
    await wait_for(lambda: resources.status("hype").get("eventId"), what="eventId")
    assert min_replicas() == 3  # untouched before the window
    await wait_for(lambda: min_replicas() == 10, within=15, what="minReplicas 10 (its max)")
    assert record(resources, "search", kind=HPA) == "3"
    assert replicas(resources, "search") == 2  # the HPA owns replicas; the operator sets a floor
    await wait_for(lambda: min_replicas() == 3, within=15, what="minReplicas back to 3")
    assert record(resources, "search", kind=HPA) is None
    resources.delete("hype")
    await wait_for(lambda: resources.get("hype") is None, what="deletion")
    assert min_replicas() == 3


async def test_deleting_an_event_mid_rush_restores_what_was_recorded(operator, resources):
    resources.apply(deployment("checkout", 3))
    resources.apply(
        event_manifest("now", opens_in=-5, closes_in=600, scaling=scaling("checkout", 5))
    )
    await wait_for(lambda: replicas(resources, "checkout") == 5, what="5 replicas")
    resources.delete("now")
    await wait_for(lambda: resources.get("now") is None, what="deletion")
    assert (replicas(resources, "checkout"), record(resources, "checkout")) == (3, None)


async def test_removing_scaling_or_turning_invalid_mid_rush_gives_the_replicas_back(
    operator, resources, kube, namespace
):
    resources.apply(deployment("cart", 2))
    manifest = event_manifest("rush", opens_in=-5, closes_in=600, scaling=scaling("cart", 6))
    resources.apply(manifest)
    await wait_for(lambda: replicas(resources, "cart") == 6, what="6 replicas")

    kube.kubectl("-n", namespace, "patch", "evt", "rush", "--type=json",
                 "-p", '[{"op":"remove","path":"/spec/scaling"}]')  # fmt: skip
    await wait_for(lambda: replicas(resources, "cart") == 2, what="back to 2")
    await wait_for(
        lambda: "scaledDeployment" not in resources.status("rush"), what="scaledDeployment cleared"
    )
    assert record(resources, "cart") is None
    assert "Scaled" not in [c["type"] for c in resources.status("rush")["conditions"]]

    resources.apply(manifest)  # scaling back: raised again
    await wait_for(lambda: replicas(resources, "cart") == 6, what="6 replicas again")
    resources.patch("rush", {"spec": {"endsAt": manifest["spec"]["startsAt"]}})  # Invalid
    await wait_for(lambda: resources.status("rush").get("phase") == "Invalid", what="Invalid")
    await wait_for(lambda: replicas(resources, "cart") == 2, what="back to 2 when Invalid")
    assert record(resources, "cart") is None


async def test_the_record_survives_a_restart(start_operator, resources):
    first = start_operator()
    resources.apply(deployment("door", 2))
    resources.apply(event_manifest("brief", opens_in=-5, closes_in=4, scaling=scaling("door", 4)))
    await wait_for(lambda: replicas(resources, "door") == 4, what="4 replicas")
    first.stop()
    # The window closes while no operator runs; the next one finds only the record.
    await asyncio.sleep(5)
    assert (replicas(resources, "door"), record(resources, "door")) == (4, "2")
    start_operator()
    await wait_for(lambda: replicas(resources, "door") == 2, what="back to the recorded 2")
    assert record(resources, "door") is None


async def test_twenty_events_on_one_deployment_cost_one_pass_per_interval(operator, resources):
    resources.apply(deployment("stage", 2))
    names = [f"gig-{i:02d}" for i in range(20)]
    for name in names:
        resources.apply(event_manifest(name, opens_in=-5, closes_in=600,
                                       scaling=scaling("stage", 4)))  # fmt: skip
    await wait_for(
        lambda: all(resources.status(n).get("scaledDeployment") == "stage" for n in names),
        within=60,
        what="every claim",
    )
    assert replicas(resources, "stage") == 4
    # Counted by the API server: reads of Deployments (or their scale) over 5 seconds.
    before = deployment_reads(resources.kube)
    await asyncio.sleep(5)
    reads = deployment_reads(resources.kube) - before
    # The target is settled about once per interval (1 s here) whatever the number of
    # Events claiming it; once per Event would be some 20 per second.
    assert 1 <= reads <= 10, reads
    assert operator.metric("evently_operator_scale_passes_total") >= 1


async def test_a_missing_scale_target_is_a_condition_and_a_warning(operator, resources):
    resources.apply(
        event_manifest("orphan", opens_in=-5, closes_in=600, scaling=scaling("ghost", 3))
    )
    scaled = await wait_for(
        lambda: (c := condition(resources, "orphan", "Scaled")).get("status") == "False" and c,
        what="Scaled False",
    )
    assert scaled["reason"] == "ScaleTargetMissing"
    assert "ghost does not exist" in scaled["message"]
    ready = condition(resources, "orphan", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ScaleTargetMissing")
    await wait_for(
        lambda: "ScaleTargetMissing" in resources.reasons("orphan"), what="a Warning Event"
    )
    warning = next(e for e in resources.k8s_events("orphan") if e["reason"] == "ScaleTargetMissing")
    assert warning["type"] == "Warning"

    resources.apply(deployment("ghost", 1))  # the target appears: scaled within an interval
    await wait_for(lambda: replicas(resources, "ghost") == 3, what="3 replicas")
    await wait_for(
        lambda: condition(resources, "orphan", "Scaled").get("reason") == "SaleWindowOpen",
        what="Scaled: SaleWindowOpen",
    )


async def test_scale_events_land_on_the_event_whose_window_caused_them(operator, resources):
    """Two Events claim one Deployment; the shared pass is run by whichever Event's worker
    the sweep picks (here ``patron``, the first claim). The ScaledUp and ScaledDown
    Kubernetes Events still belong to ``rush``, whose window opened and closed."""
    resources.apply(deployment("venue", 2))
    # patron's window is months away: it claims the Deployment but never changes it.
    resources.apply(
        event_manifest("patron", opens_in=1800, closes_in=3000, scaling=scaling("venue", 4))
    )
    await wait_for(
        lambda: condition(resources, "patron", "Scaled").get("reason") == "OutsideSaleWindow",
        what="patron: Scaled OutsideSaleWindow",
    )
    # rush's window is [opensAt - 10s, closesAt + 10s) = [+10s, +35s): neither boundary is
    # a phase change of its own, so only the shared pass notices them.
    resources.apply(
        event_manifest("rush", opens_in=20, closes_in=25,
                       scaling=scaling("venue", 5, lead="10s", cooldown="10s"))
    )  # fmt: skip
    await wait_for(lambda: replicas(resources, "venue") == 5, within=30, what="5 replicas")
    await wait_for(lambda: "ScaledUp" in resources.reasons("rush"), what="ScaledUp on rush")
    await wait_for(lambda: replicas(resources, "venue") == 2, within=40, what="back to 2")
    await wait_for(lambda: "ScaledDown" in resources.reasons("rush"), what="ScaledDown on rush")
    scaled_up = next(e for e in resources.k8s_events("rush") if e["reason"] == "ScaledUp")
    assert scaled_up["involvedObject"]["uid"] == resources.get("rush")["metadata"]["uid"]
    assert "Deployment venue: replicas 2 -> 5" in scaled_up["message"]
    reasons = resources.reasons("patron")
    assert "ScaledUp" not in reasons and "ScaledDown" not in reasons, reasons
