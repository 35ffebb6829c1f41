"""The customer journey from inside the cluster, through the Services that the rendered
Ingress names (no ingress controller runs here): the very file tests/acceptance runs
against `evently up`, in a pod of the release's image."""

from __future__ import annotations

import json

from tests.acceptance.test_customer_journey import check_journey
from tests.e2e.conftest import Release
from tests.e2e.node import ROOT, Stages

JOURNEY = ROOT / "tests" / "support" / "journey.py"
BUDGET_S = 300


def test_the_customer_journey_inside_the_cluster(release: Release, stages: Stages) -> None:
    routes = release.ingress_routes()
    assert {base.split("//")[1].split(".")[0] for _, base in routes} == {
        release.component(name)
        for name in (
            "users",
            "events",
            "bookings",
            "search",
            "analytics",
            "notifications",
            "waiting-room",  # the chart's DNS name of waiting_room
        )
    }, "the Ingress routes to every service"
    with stages.stage("journey: customers", BUDGET_S) as stage:
        phase, logs = release.node.run_pod(
            release.namespace,
            "journey",
            f"evently:{release.image_tag}",
            ["python", "/scenario/journey.py", json.dumps(routes),
             release.admin_email, release.admin_password],
            files={"journey.py": JOURNEY},
            timeout=stage.budget_s,
        )  # fmt: skip
    assert phase == "Succeeded", logs[-3000:]
    check_journey(json.loads(logs.strip().splitlines()[-1]))
