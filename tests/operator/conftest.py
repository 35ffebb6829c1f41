"""Operator tests: one real kube-apiserver per session, a namespace and a database per test,
and the operator itself run as a subprocess (``evently-operator run``) against both."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from evently.core.db import init_connection
from evently.events import repository
from tests.conftest import INTERNAL_API_KEY
from tests.support.kube import KubeCluster, free_port
from tests.support.kube import kube_cluster as kube_cluster  # the session fixture

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
SAMPLES = REPO / "manifests" / "samples"
# The level-based pass runs every second in tests, so clock-driven changes show quickly.
RECONCILE_INTERVAL_S = "1"
OPERATOR_START_TIMEOUT_S = 30


@pytest.fixture(scope="session")
def kube(kube_cluster: KubeCluster) -> KubeCluster:
    """The session's API server with the CRDs (Event, kopf peering) applied."""
    kube_cluster.kubectl("apply", "-f", str(CRDS))
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=30s", "crd/events.evently.io",
        "crd/kopfpeerings.kopf.dev", "crd/clusterkopfpeerings.kopf.dev",
    )  # fmt: skip
    return kube_cluster


@pytest.fixture
def namespace(kube: KubeCluster) -> Iterator[str]:
    name = kube.create_namespace("op")
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


async def wait_for(
    probe: Callable[[], Any | Awaitable[Any]], *, within: float = 20, what: str = "condition"
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` seconds.

    A bounded wait for something to happen, not a speed assertion.
    """
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.2)


@dataclass
class OperatorProcess:
    """One running ``evently-operator`` and how to look at it."""

    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0  # the probe server's, from its "operator started" log line

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of ``name`` over samples whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            sample, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in sample for k, v in labels.items()):
                total += float(value)
        return total

    def get(self, path: str) -> int:
        """The HTTP status of ``GET path`` on the probe server (0 if it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def healthy(self) -> bool:
        if not self.port:
            for line in self.log().splitlines():
                if '"operator started"' in line:
                    self.port = int(json.loads(line)["port"])
        return bool(self.port) and self.get("/healthz") == 200

    def wait_started(self) -> None:
        """Until the probe server answers; fails with the log if it exits or is slow."""
        deadline = time.monotonic() + OPERATOR_START_TIMEOUT_S
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the operator did not start:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def operator_env(kube: KubeCluster, namespace: str, database_url: str) -> dict[str, str]:
    """The environment an operator pod would get, pointed at this test's cluster and DB."""
    return {
        **os.environ,
        **kube.env(),
        "DATABASE_URL": database_url,
        "INTERNAL_API_KEY": INTERNAL_API_KEY,
        # Nothing listens here unless a test starts bookings: figures are then unavailable.
        "BOOKINGS_URL": f"http://127.0.0.1:{free_port()}",
        "WATCH_NAMESPACES": namespace,
        "HOST": "127.0.0.1",
        "RECONCILE_INTERVAL_S": RECONCILE_INTERVAL_S,
        "PEERING_NAME": "evently-operator",
        "PEERING_LIFETIME_S": "10",
        # One replica per test mostly: a short settle keeps the first pass quick.
        "PEERING_SETTLE_S": "0.5",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def start_operator(
    operator_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., OperatorProcess]]:
    """``start_operator(PEERING_PRIORITY="100", ...)`` runs one more operator process;
    with ``wait=False`` it returns at once (then ``wait_started()``)."""
    started: list[OperatorProcess] = []

    def start(*, wait: bool = True, **env: str) -> OperatorProcess:
        log_path = tmp_path / f"operator-{len(started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "evently_operator.cli", "run"],
                # PORT=0: the probe server binds a free port itself (no race for one).
                env={**operator_env, "PORT": "0", **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        operator = OperatorProcess(process, log_path)
        started.append(operator)
        if wait:
            operator.wait_started()
        return operator

    yield start
    for index, operator in enumerate(started):
        operator.stop()
        # Shown by pytest only when the test failed.
        print(f"--- operator {index} log (tail) ---\n{operator.log()[-8000:]}")


@pytest.fixture
def operator(start_operator: Callable[..., OperatorProcess]) -> OperatorProcess:
    """One operator watching this test's namespace."""
    return start_operator()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database the operator writes (to look at rows, or tamper)."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    yield conn
    await conn.close()


async def row_of(db: asyncpg.Connection, namespace: str, name: str) -> Any:
    return await repository.find_event_by_managed_by(db, f"kubernetes:{namespace}/{name}")


class Resources:
    """kubectl on Event resources in one namespace."""

    def __init__(self, kube: KubeCluster, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    def apply(self, manifest: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.kube.kubectl("-n", self.namespace, "apply", "-f", "-", input=text)

    def try_apply(self, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """Apply without kubectl's own checks, so the API server's schema decides."""
        return self.kube.kubectl(
            "-n", self.namespace, "apply", "--validate=false", "-f", "-",
            input=yaml.safe_dump(manifest), check=False,
        )  # fmt: skip

    def get(self, name: str, kind: str = "evt") -> dict[str, Any] | None:
        result = self.kube.kubectl(
            "-n", self.namespace, "get", kind, name, "-o", "json", check=False
        )
        return json.loads(result.stdout) if result.returncode == 0 else None

    def status(self, name: str) -> dict[str, Any]:
        return (self.get(name) or {}).get("status") or {}

    def patch(self, name: str, patch: dict[str, Any], kind: str = "evt") -> None:
        self.kube.kubectl(
            "-n", self.namespace, "patch", kind, name, "--type=merge", "-p", json.dumps(patch)
        )

    def delete(self, name: str, kind: str = "evt") -> None:
        self.kube.kubectl("-n", self.namespace, "delete", kind, name, "--wait=false")

    def k8s_events(self, name: str) -> list[dict[str, Any]]:
        """Core v1 Events about the Event resource ``name`` (what kubectl describe shows)."""
        listing = self.kube.kubectl_json(
            "-n", self.namespace, "get", "events.v1.",
            f"--field-selector=involvedObject.name={name},involvedObject.kind=Event",
        )  # fmt: skip
        return listing.get("items", [])

    def reasons(self, name: str) -> list[str]:
        return [e.get("reason") for e in self.k8s_events(name)]


@pytest.fixture
def resources(kube: KubeCluster, namespace: str) -> Resources:
    return Resources(kube, namespace)


def sample(name: str) -> dict[str, Any]:
    """A manifest from manifests/samples/ as a dict, for the test's own namespace (the
    samples name the chart's release namespace, ``evently``)."""
    manifest = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    manifest["metadata"].pop("namespace", None)
    return manifest


def iso_in(seconds: float) -> str:
    """An RFC 3339 time ``seconds`` from now (negative: in the past)."""
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def event_manifest(
    name: str,
    *,
    opens_in: float | None = None,
    closes_in: float | None = None,
    starts_in: float = 3600,
    ends_in: float = 7200,
    capacity: int = 100,
    scaling: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A valid Event whose times are relative to now (seconds)."""
    sale: dict[str, Any] = {}
    if opens_in is not None:
        sale["opensAt"] = iso_in(opens_in)
    if closes_in is not None:
        sale["closesAt"] = iso_in(closes_in)
    body: dict[str, Any] = {
        "title": f"Test event {name}",
        "type": "concert",
        "venue": {"name": f"Hall {name}", "address": "1 Test Street", "city": "Testville",
                  "capacity": max(capacity, 200)},
        "startsAt": iso_in(starts_in),
        "endsAt": iso_in(ends_in),
        "capacity": capacity,
        "price": {"amount": "25.00", "currency": "EUR"},
        "sale": sale,
        **spec,
    }  # fmt: skip
    if scaling is not None:
        body["scaling"] = scaling
    return {"apiVersion": "evently.io/v1", "kind": "Event", "metadata": {"name": name},
            "spec": body}  # fmt: skip
