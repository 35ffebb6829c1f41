"""The CRDs and the chart's objects against a real kube-apiserver (v1.20).

The CRDs are applied for real (custom objects need them); everything else goes through
`kubectl apply --dry-run=server`, so the apiserver runs its full validation and
defaulting without storing anything. Rendering with --kube-version 1.20 exercises the
chart's fallbacks (autoscaling/v2beta2, policy/v1beta1).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest

from tests.deploy.chart import CHART, ROOT, VALUE_SETS, find_helm, parse_objects, render
from tests.support.kube import KubeCluster

KUBE_VERSION = "1.20.2"


@pytest.fixture(scope="module")
def crds_installed(kube_cluster: KubeCluster) -> KubeCluster:
    kube_cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    names = []
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        names += [d["metadata"]["name"] for d in parse_objects(path.read_text())]
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        *[f"customresourcedefinition/{name}" for name in names],
    )  # fmt: skip
    return kube_cluster


def test_crds_are_served_with_the_evt_short_name(crds_installed: KubeCluster) -> None:
    crd = crds_installed.kubectl_json("get", "customresourcedefinition", "events.evently.io")
    assert "evt" in crd["spec"]["names"]["shortNames"]
    assert "evently" in crd["spec"]["names"]["categories"]
    resources = crds_installed.kubectl("api-resources", "--api-group=evently.io").stdout
    assert "evt" in resources


def test_chart_crds_are_the_ones_applied() -> None:
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "crds").glob("*.yaml")
    )


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_chart_objects_pass_server_side_dry_run(
    crds_installed: KubeCluster, value_set: str
) -> None:
    namespace = crds_installed.create_namespace(f"dry-{value_set}")
    rendered = render(*VALUE_SETS[value_set], "--kube-version", KUBE_VERSION, namespace=namespace)
    kinds = rendered.kinds()
    assert "HorizontalPodAutoscaler" not in kinds or {
        o["apiVersion"] for o in rendered.of_kind("HorizontalPodAutoscaler")
    } == {"autoscaling/v2beta2"}
    result = crds_installed.kubectl(
        "apply", "--dry-run=server", "-o", "json", "-f", "-", input=rendered.text, check=False
    )
    assert result.returncode == 0, result.stderr
    applied = json.loads(result.stdout)
    items = applied["items"] if applied.get("kind") == "List" else [applied]
    assert {(i["kind"], i["metadata"]["name"]) for i in items} == {
        (o["kind"], o["metadata"]["name"]) for o in rendered.objects
    }


def test_dry_run_rejects_an_object_the_apiserver_would_refuse(
    crds_installed: KubeCluster,
) -> None:
    # The check has teeth: a broken Deployment (no containers) is refused.
    namespace = crds_installed.create_namespace("dry-bad")
    rendered = render("--kube-version", KUBE_VERSION, namespace=namespace)
    broken = rendered.get("Deployment", "evently-users")
    broken["spec"]["template"]["spec"]["containers"] = []
    result = crds_installed.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(broken), check=False
    )
    assert result.returncode != 0
    assert "containers" in result.stderr


def _helm_dry_run_install(cluster: KubeCluster, namespace: str, *args: str) -> dict:
    """`helm install --dry-run=server`: real lookups and the cluster's own API list."""
    result = subprocess.run(
        [find_helm(), "install", "evently", str(CHART), "--namespace", namespace,
         "--dry-run=server", "--output", "json", *args],
        env=os.environ | cluster.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_upgrade_keeps_the_generated_secrets(crds_installed: KubeCluster) -> None:
    # The Secret a previous install generated; the chart must reuse, not regenerate, it.
    namespace = crds_installed.create_namespace("keep")
    kept = {
        "INTERNAL_API_KEY": "kept-internal-key-0123456789",
        "JWT_SIGNING_KEYS": '{"key-kept": "-----BEGIN PRIVATE KEY-----\\nkept\\n..."}',
        "TICKET_SIGNING_KEYS": '{"ticket-kept": "-----BEGIN PRIVATE KEY-----\\nkept\\n..."}',
        "POSTGRES_PASSWORD": "keptpassword",
        "ADMIN_PASSWORD": "kept-admin-password",
    }
    crds_installed.kubectl(
        "-n", namespace, "create", "secret", "generic", "evently",
        *[f"--from-literal={key}={value}" for key, value in kept.items()],
    )  # fmt: skip
    release = _helm_dry_run_install(crds_installed, namespace)
    (secret,) = [
        o for hook in release["hooks"] for o in parse_objects(hook["manifest"])
        if o["kind"] == "Secret"
    ]  # fmt: skip
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {k: data[k] for k in kept} == kept
    assert data["DATABASE_URL"] == (
        "postgresql://evently:keptpassword@evently-postgresql:5432/evently"
    )


def test_install_picks_fallback_apis_from_the_clusters_discovery(
    crds_installed: KubeCluster,
) -> None:
    namespace = crds_installed.create_namespace("discover")
    release = _helm_dry_run_install(
        crds_installed, namespace, "-f", str(CHART / "values-prod.yaml")
    )
    objects = parse_objects(release["manifest"])
    versions = {o["kind"]: o["apiVersion"] for o in objects}
    assert versions["HorizontalPodAutoscaler"] == "autoscaling/v2beta2"
    assert versions["PodDisruptionBudget"] == "policy/v1beta1"
    assert "ServiceMonitor" not in versions, "no monitoring.coreos.com on this cluster"
