"""hack/cluster.sh brings up a node where pods really run: two pods of a Deployment become
Ready behind their readiness probe, and another pod reaches them through a ClusterIP
Service by its cluster DNS name (kube-proxy, CNI bridge, dnsmasq), and reaches the API."""

from __future__ import annotations

import json

import pytest
from tests.e2e.node import Node, wait_for

NAMESPACE = "smoke"
SERVER = ["python3", "-m", "http.server", "8080", "--directory", "/etc"]
CLIENT = """
import socket, ssl, urllib.error, urllib.request
print("resolved", socket.gethostbyname("web.smoke.svc.cluster.local"))
with urllib.request.urlopen("http://web/hostname", timeout=10) as r:  # search domain
    print("service", r.status)
try:
    urllib.request.urlopen("https://kubernetes.default.svc/api", timeout=10,
                           context=ssl._create_unverified_context())
except urllib.error.HTTPError as e:
    print("apiserver", e.code)
"""


def web(replicas: int, image: str) -> list[dict]:
    labels = {"app": "web"}
    container = {
        "name": "web",
        "image": image,
        "imagePullPolicy": "Never",
        "command": SERVER,
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/hostname", "port": "http"}, "periodSeconds": 1},
        "securityContext": {"runAsUser": 10001, "runAsNonRoot": True},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    ]


@pytest.fixture(scope="module")
def smoke(node: Node, base_image: str) -> Node:
    node.kubectl("create", "namespace", NAMESPACE)
    for obj in web(2, base_image):
        node.kubectl("apply", "-f", "-", input=json.dumps(obj))
    return node


def test_the_node_is_ready_and_says_what_it_is(node: Node) -> None:
    (item,) = node.kubectl_json("get", "nodes")["items"]
    conditions = {c["type"]: c["status"] for c in item["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert item["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.20")
    assert item["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("docker://20.10")


def test_two_pods_become_ready_behind_their_probe(smoke: Node) -> None:
    wait_for("2 ready web pods", lambda: len(smoke.ready_pods(NAMESPACE, "app=web")) == 2, 120)
    endpoints = smoke.kubectl_json("-n", NAMESPACE, "get", "endpoints", "web")
    assert len(endpoints["subsets"][0]["addresses"]) == 2
    for address in endpoints["subsets"][0]["addresses"]:
        assert address["ip"].startswith("10.244.0.")


def test_a_pod_reaches_the_service_by_name_and_the_api(smoke: Node, base_image: str) -> None:
    wait_for("2 ready web pods", lambda: len(smoke.ready_pods(NAMESPACE, "app=web")) == 2, 120)
    phase, logs = smoke.run_pod(
        NAMESPACE, "client", base_image, ["python3", "-c", CLIENT], timeout=120
    )
    assert phase == "Succeeded", logs
    service_ip = smoke.kubectl_json("-n", NAMESPACE, "get", "service", "web")["spec"]["clusterIP"]
    assert f"resolved {service_ip}" in logs
    assert "service 200" in logs
    assert "apiserver 401" in logs or "apiserver 403" in logs, logs
