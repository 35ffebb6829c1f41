"""Monitoring on the real node: a real Prometheus scrapes every Evently pod through what the
chart declares, loads the chart's rules, and the analytics traffic endpoint answers from it.

Debian's prometheus (the only one to be had here) is built without kubernetes_sd_configs,
so no in-release Prometheus can run (values-e2e.yaml turns it off) and this test runs
Debian's binary on the node with the chart's own prometheus.yml and rules, as rendered
by `helm template` with prometheus.enabled. Only the discovery is a stand-in, named as
such: ``kubernetes_sd_configs`` (role pod) becomes ``file_sd_configs`` fed every 2 s from
the API's pod list with the same ``__meta_kubernetes_*`` labels Kubernetes discovery
gives, so the chart's relabelling (instance, prometheus.io/* annotations, port, path)
runs unchanged. Analytics reaches it through a selector-less Service
(``monitoring.prometheusUrl`` in values-e2e.yaml).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import CHART, VALUES, Release
from tests.e2e.node import Node, Stages, run, tool, wait_for

SCRAPED = ["users", "events", "bookings", "search", "analytics", "operator"]
RULES = CHART / "files" / "prometheus" / "rules.yaml"
BRIDGE = "10.244.0.1"  # hack/cluster.sh's gateway: pods reach the node there
SERVICE = "prometheus-on-node"


def _label(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def pod_targets(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Kubernetes pod discovery yields: one target per container port."""
    targets = []
    for pod in pods:
        ip = pod["status"].get("podIP")
        if not ip or pod["metadata"].get("deletionTimestamp"):
            continue
        meta = pod["metadata"]
        labels = {
            "__meta_kubernetes_namespace": meta["namespace"],
            "__meta_kubernetes_pod_name": meta["name"],
            "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_phase": pod["status"].get("phase", ""),
        }
        for key, value in meta.get("labels", {}).items():
            labels[f"__meta_kubernetes_pod_label_{_label(key)}"] = value
        for key, value in meta.get("annotations", {}).items():
            labels[f"__meta_kubernetes_pod_annotation_{_label(key)}"] = value
        for container in pod["spec"]["containers"]:
            for port in container.get("ports", []):
                targets.append(
                    {
                        "targets": [f"{ip}:{port['containerPort']}"],
                        "labels": labels
                        | {
                            "__meta_kubernetes_pod_container_name": container["name"],
                            "__meta_kubernetes_pod_container_port_number": str(
                                port["containerPort"]
                            ),
                            "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                        },
                    }
                )
    return targets


def chart_prometheus_config(release: Release) -> tuple[dict[str, Any], str]:
    """The chart's prometheus.yml and rules, as its in-release Prometheus would get them."""
    values = [arg for path in VALUES for arg in ("-f", str(path))]
    rendered = run(
        [tool("helm"), "template", release.name, str(CHART), "--namespace", release.namespace,
         *values, "--set", "prometheus.enabled=true",
         "--show-only", "templates/prometheus.yaml"],
    ).stdout  # fmt: skip
    (config_map,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ConfigMap"]
    return yaml.safe_load(config_map["data"]["prometheus.yml"]), config_map["data"]["rules.yaml"]


def get_json(url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def free_port(address: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def point_service_at(node: Node, namespace: str, port: int) -> None:
    """A selector-less Service whose one endpoint is this node's Prometheus."""
    meta = {"name": SERVICE, "namespace": namespace}
    objects = [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"ports": [{"name": "http", "port": 9090, "targetPort": port}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
         "subsets": [{"addresses": [{"ip": BRIDGE}], "ports": [{"name": "http", "port": port}]}]},
    ]  # fmt: skip
    for obj in objects:
        node.kubectl("apply", "-f", "-", input=json.dumps(obj))


@pytest.fixture(scope="module")
def prometheus(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("prometheus-on-node")
    config, rules = chart_prometheus_config(release)
    (workdir / "rules.yaml").write_text(rules)
    targets = workdir / "pods.json"
    targets.write_text("[]")
    config["rule_files"] = [str(workdir / "rules.yaml")]
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
        job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "2s"}]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    stop = threading.Event()

    def discover() -> None:
        while not stop.wait(2):
            pods = release.node.kubectl_json("-n", release.namespace, "get", "pods")["items"]
            (workdir / "pods.tmp").write_text(json.dumps(pod_targets(pods)))
            (workdir / "pods.tmp").replace(targets)

    port = free_port(BRIDGE)
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address={BRIDGE}:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    discovery = threading.Thread(target=discover, daemon=True)
    discovery.start()
    url = f"http://{BRIDGE}:{port}"
    try:
        wait_for("Prometheus ready", lambda: process.poll() is None and ready(url), 30)
        point_service_at(release.node, release.namespace, port)
        yield url
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)
        discovery.join(timeout=10)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def scraped_pods(release: Release) -> set[str]:
    """Running Evently pods that declare prometheus.io/scrape."""
    pods = release.node.kubectl_json("-n", release.namespace, "get", "pods")["items"]
    return {
        p["metadata"]["name"]
        for p in pods
        if p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and p["metadata"]["labels"].get("app.kubernetes.io/component") in SCRAPED
        and p["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"
    }


def test_prometheus_scrapes_every_evently_pod(
    release: Release, prometheus: str, stages: Stages
) -> None:
    expected = scraped_pods(release)
    assert {p.rsplit("-", 2)[0] for p in expected} == {release.component(c) for c in SCRAPED}

    def all_up() -> set[str]:
        _, body = get_json(f"{prometheus}/api/v1/targets")
        up = {t["labels"].get("pod") for t in body["data"]["activeTargets"] if t["health"] == "up"}
        return up if scraped_pods(release) <= up else set()

    with stages.stage("monitoring: every pod scraped", 120) as stage:
        up = wait_for("every Evently pod scraped and up", all_up, stage.budget_s, interval=2)
    _, body = get_json(f"{prometheus}/api/v1/targets")
    targets = {t["labels"]["pod"] for t in body["data"]["activeTargets"]}
    # Pods that do not declare prometheus.io/scrape (PostgreSQL, test pods) are never
    # targets. (Comparing the targets with `up` raced with a pod being replaced: its
    # target stays until the next discovery, and is down.)
    pods = release.node.kubectl_json("-n", release.namespace, "get", "pods")["items"]
    undeclared = {
        p["metadata"]["name"]
        for p in pods
        if p["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true"
    }
    assert undeclared and not targets & undeclared, "only pods that declare scrape are scraped"
    assert up <= targets


def test_the_charts_rules_load(release: Release, prometheus: str) -> None:
    wanted = {g["name"]: len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"]}
    _, body = get_json(f"{prometheus}/api/v1/rules")
    loaded = {g["name"]: g["rules"] for g in body["data"]["groups"]}
    assert {name: len(rules) for name, rules in loaded.items()} == wanted
    for name, rules in loaded.items():
        assert all(r["health"] in ("ok", "unknown") for r in rules), (name, rules)


def cluster_url(release: Release, component: str) -> str:
    """A component's ClusterIP, which kube-proxy answers on this node too."""
    service = release.node.kubectl_json(
        "-n", release.namespace, "get", "service", release.component(component)
    )  # fmt: skip
    return f"http://{service['spec']['clusterIP']}:8080"


def test_the_analytics_traffic_endpoint_answers_from_prometheus(
    release: Release, prometheus: str
) -> None:
    status, session = get_json(
        cluster_url(release, "users") + "/api/v1/auth/admin/login",
        body={"email": release.admin_email, "password": release.admin_password},
    )
    assert status == 200, session
    traffic = cluster_url(release, "analytics") + "/api/v1/admin/analytics/traffic?window=5m"

    def answered() -> dict[str, Any] | None:
        status, body = get_json(traffic, token=session["access_token"])
        assert status == 200, body  # 503 prometheus_unavailable: analytics cannot reach it
        return body if body["services"]["users"]["request_rate"] else None

    body = wait_for("users' request rate from Prometheus", answered, 120, interval=3)
    assert set(body["services"]) == {
        "users",
        "events",
        "bookings",
        "search",
        "analytics",
        "notifications",
        "waiting_room",
    }
    assert body["services"]["users"]["request_rate"] > 0
