"""Scaling for a sale's rush, on real Deployment and HPA objects.

No kubelet runs here, so pods never start; what is checked is what the operator
controls: ``spec.replicas`` through the scale subresource, and an HPA's minReplicas.
"""

from __future__ import annotations

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


def replicas(resources, name: str) -> int:
    return resources.get(name, kind="deployment")["spec"]["replicas"]


def scaling(target: str, baseline: int, sale: int, lead: str = "0s", cooldown: str = "0s"):
    return {"deployment": target, "baselineReplicas": baseline, "saleReplicas": sale,
            "leadTime": lead, "cooldown": cooldown}  # fmt: skip


async def test_a_deployment_scales_up_before_the_sale_and_back_after(operator, resources):
    resources.apply(deployment("shop", 1))
    resources.apply(
        event_manifest("rush", opens_in=8, closes_in=10,
                       scaling=scaling("shop", 1, 4, lead="4s", cooldown="1s"))
    )  # fmt: skip
    await wait_for(lambda: resources.status("rush").get("eventId"), what="eventId")
    assert replicas(resources, "shop") == 1  # the window (opensAt - leadTime) has not begun

    await wait_for(lambda: replicas(resources, "shop") == 4, within=15, what="4 replicas")
    assert resources.status("rush")["phase"] == "Scheduled"  # up before the sale opens
    await wait_for(lambda: replicas(resources, "shop") == 1, within=20, what="back to 1")
    assert resources.status("rush")["phase"] == "Closed"
    reasons = resources.reasons("rush")
    assert "ScaledUp" in reasons and "ScaledDown" in reasons


async def test_two_overlapping_events_on_one_deployment_compose(operator, resources):
    resources.apply(deployment("api", 2))
    # big: sale 8 over [3s, 7s); long: sale 5 over [4s, 10s). Expected 2 -> 8 -> 5 -> 2:
    # the larger wins while both run, and the end of one leaves the other's figure.
    resources.apply(event_manifest("big", opens_in=3, closes_in=7, scaling=scaling("api", 2, 8)))
    resources.apply(event_manifest("long", opens_in=4, closes_in=10, scaling=scaling("api", 2, 5)))
    seen: list[int] = [2]  # as created

    def back_to_baseline() -> bool:
        current = replicas(resources, "api")
        if not seen or seen[-1] != current:
            seen.append(current)
        return len(seen) > 1 and current == 2

    await wait_for(back_to_baseline, within=30, what="the rush to pass")
    assert seen == [2, 8, 5, 2]


async def test_an_hpa_gets_its_min_replicas_raised_instead(operator, resources):
    resources.apply(deployment("search", 2))
    resources.apply(
        {
            "apiVersion": "autoscaling/v2beta2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "search"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "search"},
                "minReplicas": 2,
                "maxReplicas": 10,
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
    )

    def min_replicas() -> int:
        return resources.get("search", kind="hpa.v2beta2.autoscaling")["spec"]["minReplicas"]

    resources.apply(
        event_manifest("hype", opens_in=2, closes_in=5, scaling=scaling("search", 2, 6))
    )
    await wait_for(lambda: min_replicas() == 6, within=15, what="minReplicas 6")
    assert replicas(resources, "search") == 2  # the HPA owns replicas; the operator sets a floor
    await wait_for(lambda: min_replicas() == 2, within=15, what="minReplicas back to 2")


async def test_deleting_an_event_mid_rush_restores_the_baseline(operator, resources):
    resources.apply(deployment("checkout", 1))
    resources.apply(
        event_manifest("now", opens_in=-5, closes_in=600, scaling=scaling("checkout", 1, 3))
    )
    await wait_for(lambda: replicas(resources, "checkout") == 3, what="3 replicas")
    resources.delete("now")
    await wait_for(lambda: resources.get("now") is None, what="deletion")
    assert replicas(resources, "checkout") == 1
