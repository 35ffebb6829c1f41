"""The operator in the cluster, with only its chart RBAC: the sample Event becomes a row and
`kubectl get evt` shows its phase and figures; a generated Event whose sale opens a few
minutes ahead scales bookings up before the window with pods that really become Ready;
deleting it runs the finalizer (the row is cancelled, the object goes).

Not asserted here yet: what the operator restores after the window. Issue 14 changes that
rule (the previous replica count or HPA minimum, not the Event's baseline); assert it on
the real node once that fix is on main.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import Release
from tests.e2e.node import ROOT, Stages, wait_for

SAMPLE = ROOT / "manifests" / "samples" / "concert.yaml"
LEAD_S, OPENS_IN_S = 180, 240  # the window starts a minute after the Event is applied
SALE_REPLICAS = 3
BUDGET_S = 420


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rush_event(opens: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "evently.io/v1",
        "kind": "Event",
        "metadata": {"name": "e2e-rush"},
        "spec": {
            "title": "E2E Rush",
            "type": "concert",
            "venue": {"name": "Node Hall", "address": "1 Bridge St", "city": "Berlin",
                      "capacity": 500},
            "startsAt": iso(opens + timedelta(days=3)),
            "endsAt": iso(opens + timedelta(days=3, hours=2)),
            "capacity": 300,
            "price": {"amount": "30.00", "currency": "EUR"},
            "sale": {"opensAt": iso(opens), "closesAt": iso(opens + timedelta(days=2))},
            "scaling": {"deployment": "evently-bookings", "baselineReplicas": 2,
                        "saleReplicas": SALE_REPLICAS, "leadTime": f"{LEAD_S}s"},
        },
    }  # fmt: skip


def sql(release: Release, query: str) -> str:
    return release.node.kubectl(
        "-n", release.namespace, "exec", "evently-postgresql-0", "--",
        "psql", "-At", "-h", "/var/run/postgresql", "-U", "evently", "-d", "evently", "-c", query,
    ).stdout.strip()  # fmt: skip


def status(release: Release, name: str) -> dict[str, Any]:
    obj = release.node.kubectl_json("-n", release.namespace, "get", "evt", name)
    return obj.get("status", {})


@pytest.fixture(scope="module")
def sample(release: Release) -> str:
    release.node.kubectl("-n", release.namespace, "apply", "-f", str(SAMPLE))
    (doc,) = [d for d in yaml.safe_load_all(SAMPLE.read_text()) if d]
    return doc["metadata"]["name"]


def test_the_sample_event_becomes_a_row_and_kubectl_shows_it(release: Release, sample: str) -> None:
    done = wait_for("the sample's eventId", lambda: status(release, sample).get("eventId"), 120)
    row = sql(release, f"select name, status, managed_by from events.events where id = {done}")
    assert row == f"Aurora Live 2027|published|kubernetes:{release.namespace}/{sample}"
    table = release.node.kubectl("-n", release.namespace, "get", "evt").stdout
    header, *rows = table.splitlines()
    assert header.split()[:5] == ["NAME", "PHASE", "SOLD", "AVAILABLE", "CAPACITY"]
    (line,) = [r for r in rows if r.startswith(sample)]
    assert line.split()[1:5] == ["Scheduled", "0", "10000", "10000"]


def test_a_coming_sale_scales_bookings_up_with_ready_pods_and_delete_finalizes(
    release: Release, sample: str, stages: Stages
) -> None:
    node, namespace = release.node, release.namespace
    bookings = release.component("bookings")
    with stages.stage("journey: operator scale-up", BUDGET_S) as stage:
        opens = datetime.now(UTC) + timedelta(seconds=OPENS_IN_S)
        window = opens - timedelta(seconds=LEAD_S)
        node.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(rush_event(opens)))
        event_id = wait_for(
            "e2e-rush's row", lambda: status(release, "e2e-rush").get("eventId"), 120
        )

        def scaled() -> datetime | None:
            deployment = node.kubectl_json("-n", namespace, "get", "deployment", bookings)
            return datetime.now(UTC) if deployment["spec"]["replicas"] == SALE_REPLICAS else None

        scaled_at = wait_for("bookings scaled up", scaled, stage.budget_s, interval=2)
        assert window <= scaled_at < opens, "up during the lead time, before the sale opens"
        assert status(release, "e2e-rush")["phase"] == "Scheduled"
        wait_for(
            f"{SALE_REPLICAS} ready bookings pods",
            lambda: len(node.ready_pods(namespace, release.selector("bookings"))) == SALE_REPLICAS,
            stage.budget_s,
            interval=2,
        )
    node.kubectl("-n", namespace, "delete", "evt", "e2e-rush", "--timeout=120s", timeout=150)
    gone = node.kubectl("-n", namespace, "get", "evt", "e2e-rush", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert sql(release, f"select status from events.events where id = {event_id}") == "cancelled"
