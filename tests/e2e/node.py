"""The one-node test cluster (hack/cluster.sh) as the e2e tests drive it.

``Node`` runs kubectl, helm and Debian's docker client against it; ``Stages`` records how
long each stage took against its budget, for the closing report (tests/e2e/conftest.py
prints it and writes it to ``$EVENTLY_E2E_REPORT``, default ``.evently/e2e-report.json``).
Every wait is bounded: a stage that overruns its budget fails, naming what it waited for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = ROOT / "hack" / "cluster.sh"
IMAGES_SH = ROOT / "hack" / "build-images.sh"
CHART = ROOT / "charts" / "evently"
# The e2e stage holds this for its whole run: one test cluster per machine.
LOCK_FILE = Path(os.environ.get("EVENTLY_E2E_LOCK", "/var/tmp/evently-e2e.lock"))
REPORT_FILE = Path(os.environ.get("EVENTLY_E2E_REPORT", ROOT / ".evently" / "e2e-report.json"))

T = TypeVar("T")


def tools_dir() -> Path:
    return Path(os.environ.get("EVENTLY_TOOLS", Path.home() / ".cache" / "evently"))


def tool(name: str) -> str:
    """A binary from hack/install-tools.sh's cache, else PATH."""
    own = tools_dir() / "bin" / name
    found = str(own) if own.is_file() else shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} not found: run hack/install-tools.sh (make tools)")
    return found


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check``, a non-zero exit raises with its output."""
    result = subprocess.run(
        argv,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:6])} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 1.0) -> T:
    """``probe()`` until truthy; after ``timeout`` s fail with its last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r:.500})")
        time.sleep(interval)


@dataclass
class Stage:
    name: str
    budget_s: float
    seconds: float | None = None


@dataclass
class Stages:
    """Each stage's time and budget, plus the figures the closing note needs."""

    stages: list[Stage] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str, budget_s: float) -> Iterator[Stage]:
        """Time a stage; its waits should use ``budget_s`` as their bound."""
        record = Stage(name, budget_s)
        self.stages.append(record)
        started = time.monotonic()
        try:
            yield record
        finally:
            record.seconds = round(time.monotonic() - started, 1)
            self.save()

    def save(self) -> None:
        REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
        REPORT_FILE.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def as_json(self) -> dict[str, Any]:
        return {
            "stages": [
                {"stage": s.name, "seconds": s.seconds, "budget_seconds": s.budget_s}
                for s in self.stages
            ],
            "figures": self.figures,
        }

    def lines(self) -> list[str]:
        out = [f"{'stage':<44} {'seconds':>8} {'budget':>8}"]
        for s in self.stages:
            seconds = "-" if s.seconds is None else f"{s.seconds:.1f}"
            out.append(f"{s.name:<44} {seconds:>8} {s.budget_s:>8.0f}")
        for key, value in self.figures.items():
            out.append(f"{key}: {json.dumps(value)}")
        return out


@dataclass
class Node:
    """The running test cluster: its kubeconfig and docker engine."""

    env: dict[str, str]

    @classmethod
    def from_cluster_env(cls, text: str) -> Node:
        """Parse ``hack/cluster.sh env`` (``export NAME=value`` lines)."""
        env = {}
        for line in text.splitlines():
            if line.startswith("export "):
                name, _, value = line[len("export ") :].partition("=")
                env[name] = value
        return cls(env)

    @property
    def kubeconfig(self) -> str:
        return self.env["KUBECONFIG"]

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([tool("kubectl"), f"--kubeconfig={self.kubeconfig}", *args], **kwargs)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def helm(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([tool("helm"), f"--kubeconfig={self.kubeconfig}", *args], **kwargs)

    def docker(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([self.env["EVENTLY_DOCKER"], *args], env=self.env, **kwargs)

    def build_images(self, *args: str, timeout: float) -> None:
        run([str(IMAGES_SH), *args], env=self.env, timeout=timeout)

    def pod_logs(self, namespace: str, pod: str, container: str | None = None) -> str:
        extra = ["-c", container] if container else []
        result = self.kubectl("-n", namespace, "logs", pod, *extra, check=False)
        return result.stdout + result.stderr

    def ready_pods(self, namespace: str, selector: str) -> list[str]:
        """Names of the Ready, not terminating pods matching a label selector."""
        pods = self.kubectl_json("-n", namespace, "get", "pods", "-l", selector)["items"]
        return [
            p["metadata"]["name"]
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions", [])
            )
        ]

    def run_pod(
        self,
        namespace: str,
        name: str,
        image: str,
        command: list[str],
        *,
        timeout: float,
        files: dict[str, Path] | None = None,
    ) -> tuple[str, str]:
        """Run one pod to completion (see ``start_pod``): (phase, logs); then delete it."""
        self.start_pod(namespace, name, image, command, files=files)
        try:
            return self.wait_pod(namespace, name, timeout), self.pod_logs(namespace, name)
        finally:
            self.delete_pod(namespace, name)

    def start_pod(
        self,
        namespace: str,
        name: str,
        image: str,
        command: list[str],
        *,
        files: dict[str, Path] | None = None,
    ) -> None:
        """Start one pod (restartPolicy Never) locked down as the chart's pods are: non-root,
        read-only root filesystem, no capabilities, an emptyDir on /tmp. ``files`` go into a
        ConfigMap mounted at /scenario."""
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
        mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
        if files:
            self.kubectl(
                "-n", namespace, "create", "configmap", name,
                *[f"--from-file={k}={v}" for k, v in files.items()],
            )  # fmt: skip
            volumes.append({"name": "scenario", "configMap": {"name": name}})
            mounts.append({"name": "scenario", "mountPath": "/scenario"})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"e2e": name}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "runAsGroup": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "main",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "command": command,
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                        "volumeMounts": mounts,
                    }
                ],
                "volumes": volumes,
            },
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(pod))

    def wait_pod(self, namespace: str, name: str, timeout: float) -> str:
        """The pod's final phase (Succeeded or Failed), waiting at most ``timeout`` s."""

        def finished() -> str | None:
            phase = self.kubectl(
                "-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}"
            ).stdout
            return phase if phase in ("Succeeded", "Failed") else None

        return wait_for(f"pod {namespace}/{name} to finish", finished, timeout)

    def delete_pod(self, namespace: str, name: str) -> None:
        self.kubectl("-n", namespace, "delete", "pod", name, "--wait=false", check=False)
        self.kubectl("-n", namespace, "delete", "configmap", name, check=False)
