"""Generated files stay in sync with their one source."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.deploy.chart import CHART, ROOT, find_helm

MANIFESTS = ROOT / "manifests" / "evently"


def test_chart_crds_are_identical_to_the_top_level_crds() -> None:
    top = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert top, "crds/ is empty"
    assert chart == top


def test_the_event_crd_is_shipped() -> None:
    names = set()
    for path in (ROOT / "crds").glob("*.yaml"):
        names |= {d["metadata"]["name"] for d in yaml.safe_load_all(path.read_text()) if d}
    assert {"events.evently.io", "kopfpeerings.kopf.dev"} <= names


def test_plain_manifests_are_in_sync_with_the_chart() -> None:
    result = subprocess.run(
        ["hack/render-manifests.sh", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"HELM": find_helm(), "PYTHON": sys.executable},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_plain_manifests_carry_no_secret_values() -> None:
    objects = [d for d in yaml.safe_load_all((MANIFESTS / "evently.yaml").read_text()) if d]
    assert not [o for o in objects if o["kind"] == "Secret"]
    namespaced = [o for o in objects if not o["kind"].startswith("Cluster")]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"evently"}
    assert (MANIFESTS / "namespace.yaml").exists()
