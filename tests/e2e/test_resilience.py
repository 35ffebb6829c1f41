"""Resilience on the real node, with a bounded flash sale driven from inside the cluster
(tests/support/flash_sale.py, in a pod of the release's image):

- a bookings pod deleted mid-sale: 0 acknowledged bookings lost, 0 oversold;
- `helm upgrade` rolling every Deployment to a new image tag under load: 0 lost,
  0 oversold and 0 failed requests (readiness, preStop, graceful shutdown, PDBs).

"Lost": a booking acknowledged with 201 that the database does not hold as held or
confirmed, or a confirmation acknowledged with 200 that is not confirmed. "Oversold": held
plus confirmed seats above capacity, or bookings' own inventory disagreeing with the rows.
The figures go to the e2e report.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.conftest import CHART, VALUES, Release, all_available
from tests.e2e.event_resources import apply_event, ends_before_it_starts
from tests.e2e.node import ROOT, Stages, wait_for

FLASH_SALE = ROOT / "tests" / "support" / "flash_sale.py"
BUDGET_S = 480
NEXT_TAG = "e2e-next"


def start_sale(release: Release, name: str, *options: str) -> None:
    command = ["python", "/scenario/flash_sale.py", json.dumps(release.ingress_routes()),
               release.admin_email, release.admin_password, *options]  # fmt: skip
    release.node.start_pod(
        release.namespace, name, f"evently:{release.image_tag}", command,
        files={"flash_sale.py": FLASH_SALE},
    )  # fmt: skip


def seats_sold(release: Release, name: str) -> int:
    """The sale's latest progress figure; fails at once if its pod has already ended."""
    logs = release.node.pod_logs(release.namespace, name)
    lines = re.findall(r"^progress (\d+)$", logs, re.M)
    if not lines:
        pod = release.node.kubectl_json("-n", release.namespace, "get", "pod", name)
        assert pod["status"].get("phase") not in ("Succeeded", "Failed"), logs[-3000:]
    return int(lines[-1]) if lines else -1


def finish_sale(release: Release, name: str, timeout: float) -> dict[str, Any]:
    try:
        phase = release.node.wait_pod(release.namespace, name, timeout)
        logs = release.node.pod_logs(release.namespace, name)
        assert phase == "Succeeded", logs[-3000:]
        return json.loads(logs.strip().splitlines()[-1])
    finally:
        release.node.delete_pod(release.namespace, name)


def sql_rows(release: Release, query: str) -> list[list[str]]:
    return [line.split(",") for line in release.psql(query).splitlines() if line]


def audit(release: Release, sale: dict[str, Any]) -> dict[str, Any]:
    """Compare what the sale was told with what the database holds."""
    event_id = int(sale["event_id"])
    rows = sql_rows(
        release, f"select id, status, quantity from bookings.bookings where event_id = {event_id}"
    )
    stored = {int(i): (status, int(q)) for i, status, q in rows}
    lost = [i for i in map(int, sale["holds"]) if stored.get(i, ("missing",))[0] not in
            ("held", "confirmed")]  # fmt: skip
    lost += [i for i in sale["confirmed"] if stored.get(i, ("missing",))[0] != "confirmed"]
    seats = sum(q for status, q in stored.values() if status in ("held", "confirmed"))
    (inventory,) = sql_rows(
        release, f"select capacity, reserved from bookings.inventory where event_id = {event_id}"
    )
    capacity, reserved = map(int, inventory)
    return {
        "requests": sale["requests"],
        "failed": sale["failed"],
        "503 Retry-After answers retried": sum(sale["retried"].values()),
        "not acknowledged": {k: n for k, n in sale["outcomes"].items() if " 20" not in k},
        "acknowledged holds": len(sale["holds"]),
        "lost": len(lost),
        "seats sold": seats,
        "capacity": capacity,
        "oversold": max(0, seats - capacity) + (reserved != seats),
        "sold out": sale["sold_out"],
        "seconds": sale["seconds"],
    }


def database_trouble(release: Release) -> dict[str, list[str]]:
    """What the database and the services logged about it, for a failed journey's message:
    PostgreSQL's ERROR/FATAL lines and each running pod's ``database unavailable`` warnings
    (pods the roll replaced are gone with their logs)."""
    node, namespace = release.node, release.namespace
    pods = node.kubectl_json("-n", namespace, "get", "pods", "-l",
                             f"app.kubernetes.io/instance={release.name}")["items"]  # fmt: skip
    trouble: dict[str, list[str]] = {}
    for pod in (p["metadata"]["name"] for p in pods):
        lines = node.pod_logs(namespace, pod).splitlines()
        wanted = [line for line in lines if "ERROR" in line or "FATAL" in line
                  or "database unavailable on" in line]  # fmt: skip
        if wanted:
            trouble[pod] = wanted[-20:]
    return trouble


def test_a_bookings_pod_deleted_mid_sale_loses_and_oversells_nothing(
    release: Release, stages: Stages
) -> None:
    node, namespace = release.node, release.namespace
    with stages.stage("resilience: pod kill mid-sale", BUDGET_S) as stage:
        start_sale(release, "sale-kill", "--until-sold-out", "--capacity", "600",
                   "--max-per-user", "40", "--max-seconds", "300")  # fmt: skip
        wait_for("a sale in full swing", lambda: seats_sold(release, "sale-kill") >= 100,
                 stage.budget_s, interval=0.5)  # fmt: skip
        victim = node.ready_pods(namespace, release.selector("bookings"))[0]
        node.kubectl("-n", namespace, "delete", "pod", victim, "--wait=false")
        killed_at = seats_sold(release, "sale-kill")
        sale = finish_sale(release, "sale-kill", stage.budget_s)
    figures = audit(release, sale)
    figures["pod deleted at seats"] = killed_at
    figures["failures (first)"] = sale["failures"][:5]
    stages.figures["pod kill mid-sale"] = figures
    assert figures["lost"] == 0, sale
    assert figures["oversold"] == 0, figures
    assert sale["sold_out"] and figures["seats sold"] == figures["capacity"], figures
    assert killed_at < figures["capacity"], "the pod went while seats were still for sale"
    wait_for("bookings replaced", lambda: len(node.ready_pods(namespace, release.selector(
        "bookings"))) >= 2, 180)  # fmt: skip


def test_helm_upgrade_under_load_fails_no_request(release: Release, stages: Stages) -> None:
    node, namespace = release.node, release.namespace
    node.docker("tag", f"evently:{release.image_tag}", f"evently:{NEXT_TAG}")
    tls_before = webhook_tls(release)
    with stages.stage("resilience: helm upgrade under load", BUDGET_S) as stage:
        start_sale(release, "sale-upgrade", "--capacity", "1500", "--max-per-user", "100",
                   "--max-seconds", str(stage.budget_s - 60))  # fmt: skip
        wait_for("the load running", lambda: seats_sold(release, "sale-upgrade") > 20,
                 stage.budget_s, interval=0.5)  # fmt: skip
        values = [arg for path in VALUES for arg in ("-f", str(path))]
        node.helm(
            "upgrade", release.name, str(CHART), "--namespace", namespace, *values,
            "--set", f"image.tag={NEXT_TAG}", "--timeout", "300s", timeout=stage.budget_s,
        )  # fmt: skip

        def rolled() -> bool:
            instance = f"app.kubernetes.io/instance={release.name}"
            pods = node.kubectl_json("-n", namespace, "get", "pods", "-l", instance)["items"]
            running = [p for p in pods if p["status"].get("phase") == "Running"
                       and p["metadata"]["labels"].get("app.kubernetes.io/component")
                       not in ("postgresql", None)]  # fmt: skip
            images = {c["image"] for p in running for c in p["spec"]["containers"]}
            return all_available(release) and images == {f"evently:{NEXT_TAG}"}

        wait_for("every Deployment rolled to the new tag", rolled, stage.budget_s, interval=2)
        node.kubectl("-n", namespace, "exec", "sale-upgrade", "--", "touch", "/tmp/stop")
        sale = finish_sale(release, "sale-upgrade", 120)
    figures = audit(release, sale)
    figures["failures (first)"] = sale["failures"][:5]
    stages.figures["helm upgrade under load"] = figures
    for deployment in release.deployments():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"evently:{NEXT_TAG}", deployment["metadata"]["name"]
    assert figures["lost"] == 0 and figures["oversold"] == 0, figures
    assert figures["failed"] == 0, (sale["failures"], database_trouble(release))
    # The webhook's certificate outlives the upgrade (the chart looks it up), so the
    # operator started by the rollout serves what the configuration trusts: once it
    # listens, the apply is refused again (until then failurePolicy Ignore lets it by).
    assert webhook_tls(release) == tls_before
    wait_for("the webhook refusing again", lambda: refused_by_webhook(release), 120, interval=2)


def webhook_tls(release: Release) -> dict[str, str]:
    name = f"{release.component('operator')}-webhook-tls"
    return release.node.kubectl_json("-n", release.namespace, "get", "secret", name)["data"]


def refused_by_webhook(release: Release) -> bool:
    """Whether a server-side dry run of an invalid Event is refused by the webhook."""
    manifest = ends_before_it_starts("e2e-after-upgrade")
    result = apply_event(release, manifest, "--dry-run=server", check=False)
    return result.returncode != 0 and "denied the request" in result.stderr
