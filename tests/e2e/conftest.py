"""The e2e stage: Evently on a real one-node Kubernetes cluster (hack/cluster.sh).

Session fixtures, each a timed stage with a budget (see ``BUDGETS_S``):
  ``node``      the lock, a leftover check, ``hack/cluster.sh up``; ``down`` at the end
  ``images``    the base, PostgreSQL and Evently images, built offline
  ``release``   ``helm install`` of charts/evently with values-dev.yaml + values-e2e.yaml
The stage times and the resilience figures are printed at the end of the run and written
to ``$EVENTLY_E2E_REPORT`` (default .evently/e2e-report.json).

The stage needs root (or passwordless sudo) and the tools of hack/install-tools.sh; a
missing tool FAILS the stage, saying what to run. `make test-fast` leaves it out.

Iterating on these tests: ``EVENTLY_E2E_KEEP=1`` reuses a running cluster and release and
leaves them up afterwards (`make cluster-down` removes them).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from tests.e2e.node import CHART, CLUSTER_SH, LOCK_FILE, ROOT, Node, Stages, run, wait_for

# Seconds each stage may take on 2 shared cores with the tools already built.
BUDGETS_S = {
    "cluster up": 180,
    "images: base": 300,
    "images: PostgreSQL": 300,
    "images: evently": 600,
    "install to Ready": 600,
    "cluster down": 120,
}
NAMESPACE = "evently-e2e"
RELEASE = "evently"
IMAGE_TAG = "e2e"
VALUES = [CHART / "values-dev.yaml", CHART / "values-e2e.yaml"]

STAGES = Stages()
KEEP = os.environ.get("EVENTLY_E2E_KEEP") == "1"


# Per test, session fixtures included (pytest-timeout counts their set-up in the first test).
TEST_TIMEOUT_S = sum(BUDGETS_S.values()) + 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(ROOT / "tests" / "e2e")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if STAGES.stages:
        terminalreporter.section("e2e stages (seconds, budget)")
        for line in STAGES.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stages() -> Stages:
    return STAGES


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    """The test cluster, up for the session; the machine is left clean afterwards."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"another e2e stage holds {LOCK_FILE}: one test cluster per machine")
        status = run([str(CLUSTER_SH), "status"], check=False)
        running = "kube-apiserver: running" in status.stdout
        if status.returncode != 0 and not (KEEP and running):
            # Left over by an interrupted run (we hold the lock, so nobody else's):
            # `down` removes it, or fails saying what it could not remove.
            run([str(CLUSTER_SH), "down"], timeout=BUDGETS_S["cluster down"])
        if not (KEEP and running):
            with STAGES.stage("cluster up", BUDGETS_S["cluster up"]) as stage:
                try:
                    run([str(CLUSTER_SH), "up"], timeout=stage.budget_s)
                except (AssertionError, subprocess.TimeoutExpired):
                    # A half-started cluster must not outlive the failure.
                    run([str(CLUSTER_SH), "down"], timeout=BUDGETS_S["cluster down"])
                    raise
        node = Node.from_cluster_env(run([str(CLUSTER_SH), "env"]).stdout)
        try:
            yield node
        finally:
            if not KEEP:
                with STAGES.stage("cluster down", BUDGETS_S["cluster down"]) as stage:
                    run([str(CLUSTER_SH), "down"], timeout=stage.budget_s)


@dataclass(frozen=True)
class Images:
    base: str
    postgres: str
    evently: str


BASE_IMAGE = "evently-test/python:3.11-bookworm"


@pytest.fixture(scope="session")
def base_image(node: Node) -> str:
    """The debootstrapped stand-in for python:3.11-slim, in the node's engine."""
    with STAGES.stage("images: base", BUDGETS_S["images: base"]) as s:
        node.build_images("base", timeout=s.budget_s)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def images(node: Node, base_image: str) -> Images:
    """The images the chart runs, built with the node's docker engine and no registry."""
    with STAGES.stage("images: PostgreSQL", BUDGETS_S["images: PostgreSQL"]) as s:
        node.build_images("postgres", timeout=s.budget_s)
    with STAGES.stage("images: evently", BUDGETS_S["images: evently"]) as s:
        node.build_images("evently", IMAGE_TAG, timeout=s.budget_s)
    return Images(
        base=base_image,
        postgres="evently-test/postgres:15",
        evently=f"evently:{IMAGE_TAG}",
    )


@dataclass(frozen=True)
class Release:
    """The chart installed in the node: its namespace, name and what the tests need."""

    node: Node
    namespace: str
    name: str
    admin_email: str
    admin_password: str
    image_tag: str = IMAGE_TAG

    def component(self, component: str) -> str:
        return f"{self.name}-{component}"

    def selector(self, component: str) -> str:
        return f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component={component}"

    def service_url(self, component: str, port: int = 8080) -> str:
        return f"http://{self.component(component)}.{self.namespace}.svc.cluster.local:{port}"

    def psql(self, query: str) -> str:
        """``query``'s rows (fields comma-separated) from the in-cluster PostgreSQL."""
        return self.node.kubectl(
            "-n", self.namespace, "exec", f"{self.name}-postgresql-0", "--",
            "psql", "-At", "-F", ",", "-h", "/var/run/postgresql", "-U", "evently",
            "-d", "evently", "-c", query,
        ).stdout.strip()  # fmt: skip

    def deployments(self) -> list[dict[str, Any]]:
        return self.node.kubectl_json("-n", self.namespace, "get", "deployments")["items"]

    def ingress_routes(self) -> list[tuple[str, str]]:
        """(path regex, in-cluster Service URL) of each rule of the Ingress as installed, in
        order: no ingress controller runs here, so callers go where it would send them."""
        ingress = self.node.kubectl_json("-n", self.namespace, "get", "ingress", self.name)
        routes = []
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port = backend["port"].get("number") or self.service_port(
                    backend["name"], backend["port"]["name"]
                )
                base = f"http://{backend['name']}.{self.namespace}.svc.cluster.local:{port}"
                routes.append(("^" + path["path"], base))
        return routes

    def service_port(self, service: str, port_name: str) -> int:
        spec = self.node.kubectl_json("-n", self.namespace, "get", "service", service)["spec"]
        (port,) = [p["port"] for p in spec["ports"] if p.get("name") == port_name]
        return int(port)


def all_available(release: Release) -> bool:
    deployments = release.deployments()
    return bool(deployments) and all(
        d["status"].get("availableReplicas", 0) >= d["spec"]["replicas"]
        and d["status"].get("updatedReplicas", 0) >= d["spec"]["replicas"]
        for d in deployments
    )


@pytest.fixture(scope="session")
def release(node: Node, images: Images) -> Release:
    """charts/evently installed with Helm into its own namespace, every Deployment Available."""
    installed = node.helm("status", RELEASE, "--namespace", NAMESPACE, check=False)
    if KEEP and installed.returncode == 0:
        return Release(node, NAMESPACE, RELEASE, *admin_credentials(node))
    with STAGES.stage("install to Ready", BUDGETS_S["install to Ready"]) as stage:
        deadline = time.monotonic() + stage.budget_s
        node.kubectl("create", "namespace", NAMESPACE)
        # The in-cluster PostgreSQL exists only after install, so the migrations run as a
        # post-install hook: no --wait (helm waits for Ready before post-install hooks, and
        # the services are not ready before the migrations).
        values = [arg for path in VALUES for arg in ("-f", str(path))]
        node.helm(
            "install", RELEASE, str(CHART), "--namespace", NAMESPACE, *values,
            "--set", f"image.tag={IMAGE_TAG}", "--timeout", f"{int(stage.budget_s)}s",
            timeout=stage.budget_s,
        )  # fmt: skip
        release = Release(node, NAMESPACE, RELEASE, *admin_credentials(node))
        try:
            wait_for(
                "every Deployment Available",
                lambda: all_available(release),
                timeout=max(1.0, deadline - time.monotonic()),
                interval=2,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{diagnose(release)}") from None
    return release


def diagnose(release: Release) -> str:
    """What is not ready, and the end of its pods' logs: for a failed install."""
    node = release.node
    lines = [node.kubectl("-n", release.namespace, "get", "pods,deployments", check=False).stdout]
    pods = node.kubectl_json("-n", release.namespace, "get", "pods")["items"]
    for pod in pods:
        statuses = pod["status"].get("containerStatuses") or []
        if all(c.get("ready") for c in statuses) and statuses:
            continue
        name = pod["metadata"]["name"]
        lines.append(f"--- {name}: {json.dumps(pod['status'].get('containerStatuses'))[:1500]}")
        lines.append(node.pod_logs(release.namespace, name)[-1500:])
    return "\n".join(lines)


def admin_credentials(node: Node) -> tuple[str, str]:
    secret = node.kubectl_json("-n", NAMESPACE, "get", "secret", RELEASE)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    return data["ADMIN_EMAIL"], data["ADMIN_PASSWORD"]


def load_values() -> dict[str, Any]:
    """values.yaml with the e2e layers on top (maps merge, as Helm merges them)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in VALUES:
        values = merge(values, yaml.safe_load(path.read_text()))
    return values


__all__ = ["ROOT", "Images", "Release", "load_values"]
