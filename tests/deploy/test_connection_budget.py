"""The chart's bundled PostgreSQL has connections for every pod at the peak of a rolling
upgrade, when each Deployment runs its surge pods beside the old ones.

A helm upgrade under load once answered 503 ``database_unavailable`` because the users
service met "sorry, too many clients already": PostgreSQL's default ``max_connections``
(100) against 15 pods of up to 14 connections each (tests/e2e/test_resilience.py).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from evently.core.db import connections_needed
from evently.core.settings import CommonSettings, load_settings
from tests.deploy.chart import CHART, VALUE_SETS, Rendered, pod_spec, render

# The value sets that run the bundled PostgreSQL (values-prod.yaml names an external
# database, whose own max_connections its operators size), and the real-node test's
# values (tests/e2e/conftest.py VALUES).
BUDGETED = {
    "default": VALUE_SETS["default"],
    "dev": VALUE_SETS["dev"],
    "e2e": ["-f", str(CHART / "values-dev.yaml"), "-f", str(CHART / "values-e2e.yaml")],
}
# superuser_reserved_connections, and the migrations Job's one connection.
RESERVED = 3 + 1


def max_connections(rendered: Rendered) -> int:
    (container,) = pod_spec(rendered.get("StatefulSet", "evently-postgresql"))["containers"]
    (setting,) = [a for a in container["args"] if a.startswith("max_connections=")]
    return int(setting.split("=", 1)[1])


def pods_at_peak(deployment: dict[str, Any], autoscaled: dict[str, int]) -> int:
    """Replicas (an HPA's maximum where one scales it) plus the rolling update's surge."""
    replicas = autoscaled.get(deployment["metadata"]["name"], deployment["spec"]["replicas"])
    strategy = deployment["spec"].get("strategy", {})
    if strategy.get("type") != "RollingUpdate":
        return replicas
    surge = str(strategy["rollingUpdate"]["maxSurge"])
    extra = math.ceil(replicas * int(surge[:-1]) / 100) if surge.endswith("%") else int(surge)
    return replicas + extra


def connections_per_pod(rendered: Rendered, deployment: dict[str, Any]) -> int:
    """``core.db.connections_needed`` under the pod's environment (the shared ConfigMap,
    then the container's own variables)."""
    (container,) = pod_spec(deployment)["containers"]
    environ = dict(rendered.get("ConfigMap", "evently-config")["data"])
    environ.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    environ |= {"DATABASE_URL": "postgresql://budget", "INTERNAL_API_KEY": "k" * 16}
    return connections_needed(load_settings(CommonSettings, environ))


def peak_connections(rendered: Rendered) -> int:
    autoscaled = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["maxReplicas"]
        for hpa in rendered.of_kind("HorizontalPodAutoscaler")
    }
    database_clients = [
        d
        for d in rendered.of_kind("Deployment")
        if any(e["name"] == "DATABASE_URL" for e in pod_spec(d)["containers"][0].get("env", []))
    ]
    assert database_clients, "no Deployment connects to the database"
    return RESERVED + sum(
        pods_at_peak(d, autoscaled) * connections_per_pod(rendered, d) for d in database_clients
    )


@pytest.mark.parametrize("value_set", sorted(BUDGETED))
def test_the_bundled_postgresql_has_connections_for_an_upgrades_peak(value_set: str) -> None:
    rendered = render(*BUDGETED[value_set])
    assert peak_connections(rendered) <= max_connections(rendered), (
        f"{value_set}: {peak_connections(rendered)} connections at an upgrade's peak, "
        f"max_connections {max_connections(rendered)}"
    )


def test_the_budget_counts_each_pods_pools_and_the_surge() -> None:
    rendered = render(*BUDGETED["e2e"])
    # 7 Deployments (bookings 2 replicas), one surge pod each, 14 connections per pod;
    # the operator (Recreate) 14; reserved 4.
    assert peak_connections(rendered) == 15 * 14 + 14 + RESERVED
