"""Probes, metrics and Kubernetes Events an operator of the operator relies on."""

from __future__ import annotations

import subprocess
import sys

from tests.operator.conftest import event_manifest, wait_for


async def test_probes_and_metrics(operator, resources):
    resources.apply(event_manifest("watched", opens_in=3600))
    resources.apply(event_manifest("broken", opens_in=600, closes_in=300))
    await wait_for(lambda: resources.status("watched").get("phase") == "Scheduled", what="phase")
    await wait_for(lambda: resources.status("broken").get("phase") == "Invalid", what="Invalid")

    assert operator.get("/healthz") == 200
    assert operator.get("/readyz") == 200
    assert operator.metric("evently_operator_reconciles_total", trigger="create", outcome="ok") >= 1
    assert operator.metric("evently_operator_reconciles_total", outcome="invalid") >= 1
    assert operator.metric("evently_operator_events", phase="Scheduled") == 1
    assert operator.metric("evently_operator_events", phase="Invalid") == 1
    assert (
        operator.metric("evently_operator_reconcile_duration_seconds_count", trigger="create") >= 2
    )
    # The level sweep runs every second in tests, over both resources.
    await wait_for(
        lambda: operator.metric("evently_operator_sweep_duration_seconds_count") >= 2,
        what="two level sweeps",
    )


def test_the_operator_stops_when_it_cannot_start(operator_env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "evently_operator.cli", "run"],
        env={**operator_env, "DATABASE_URL": "postgresql://127.0.0.1:1/nowhere", "PORT": "0"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "cannot start" in result.stderr


async def test_watching_every_namespace_uses_a_cluster_wide_peering(
    start_operator, resources, kube, namespace
):
    peering = f"evently-{namespace}"
    start_operator(WATCH_NAMESPACES="", PEERING_NAME=peering)
    resources.apply(event_manifest("anywhere"))
    await wait_for(lambda: resources.status("anywhere").get("eventId"), what="eventId")
    cluster_peering = kube.kubectl_json("get", "clusterkopfpeerings", peering)
    assert len(cluster_peering.get("status") or {}) == 1
    kube.kubectl("delete", "clusterkopfpeerings", peering)
