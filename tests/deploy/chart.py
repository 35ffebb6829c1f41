"""Rendering charts/evently with the real helm binary, for the deploy tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "evently"
DEV_VALUES = CHART / "values-dev.yaml"
PROD_VALUES = CHART / "values-prod.yaml"
# The value sets the chart ships: name -> extra helm arguments.
VALUE_SETS: dict[str, list[str]] = {
    "default": [],
    "dev": ["-f", str(DEV_VALUES)],
    "prod": ["-f", str(PROD_VALUES)],
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def tools_dir() -> Path:
    return Path(os.environ.get("EVENTLY_TOOLS", Path.home() / ".cache" / "evently"))


def find_helm() -> str:
    """helm from hack/install-tools.sh ($EVENTLY_TOOLS/bin), else PATH; fails if absent."""
    own = tools_dir() / "bin" / "helm"
    found = str(own) if own.is_file() else shutil.which("helm")
    if found is None:
        pytest.fail(
            f"helm not found in {own.parent} or PATH: run hack/install-tools.sh (make tools)",
            pytrace=False,
        )
    return found


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``helm *args`` from the repository root."""
    result = subprocess.run(
        [find_helm(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@dataclass(frozen=True)
class Rendered:
    """The objects ``helm template`` produced, with lookups the tests need."""

    text: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for obj in self.of_kind(kind):
            if obj["metadata"]["name"] == name:
                return obj
        names = [o["metadata"]["name"] for o in self.of_kind(kind)]
        raise AssertionError(f"no {kind} named {name!r}; rendered: {names}")

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}


def parse_objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(*args: str, release: str = "evently", namespace: str = "evently") -> Rendered:
    """``helm template <release> charts/evently --namespace <namespace> *args``."""
    result = run_helm("template", release, str(CHART), "--namespace", namespace, *args)
    return Rendered(result.stdout, parse_objects(result.stdout))


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, StatefulSet or Job."""
    return workload["spec"]["template"]["spec"]
