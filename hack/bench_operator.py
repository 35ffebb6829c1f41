#!/usr/bin/env python3
"""Operator benchmark: `make bench-operator` (BENCH_ARGS="--events 10000 ...").

What it does, all on this machine:

1. starts an embedded PostgreSQL (events schema) and a real etcd + kube-apiserver v1.20
   (tests/support/kube.py; binaries from hack/install-tools.sh), applies the CRDs;
2. starts one ``evently-operator`` (standalone, LOG_LEVEL=WARNING, the default
   RECONCILE_INTERVAL_S of 15 s) watching one namespace, serving the chart's two
   admission webhooks (validation, and the finalizer at creation) as the chart installs
   them (``--no-webhook``: none);
3. creates N Event resources (sale opening in a month) with C concurrent POSTs and
   measures how long until the operator has reconciled every one (its
   ``reconciles_total{trigger="create",outcome="ok"}``), then checks that each has a
   ``status.eventId`` and a row;
4. idles: after a warm-up, the operator's CPU time over a window (from /proc), the level
   sweeps in it (count and duration) and the passes they asked for (should be none);
5. staleness: bookings' published figures change for 100 Events (rows in
   ``events.availability``, as the inventory.changed feed writes them); measures how
   long until the operator has run a pass for each;
6. deletes 1,000 Events at once (C concurrent DELETEs, as ``kubectl delete`` sends them)
   and measures how long until all are gone (finalizers done, rows cancelled and
   released);
7. the API server's own ceiling, in the same run and on the same objects (before the
   operator's phases, in a namespace it does not watch): the benchmark itself makes the
   API requests the operator makes per creation (POST, PATCH finalizer unless the
   webhook added it, PATCH status, POST a Kubernetes Event) and per deletion (DELETE,
   PATCH finalizer away, POST an Event), 32 at a time, with no operator and no database
   work at all. It is what pgbench is to the bookings benchmark: the rate no operator
   could beat on this machine without making fewer requests
   (``api_ceiling_creates_per_s``, ``api_ceiling_delete_1000_s``, and the operator's
   figures as fractions of them);
8. prints a table and writes bench-results/operator.json with ``creates_per_s``,
   ``all_reconciled_s``, ``delete_1000_s`` and ``idle_cpu_fraction``.

Every loop is bounded in count and time. Bookings is not running: no figures are asked
for at creation (a new row has sold nothing), so it does not matter there; the passes in
step 5 find it unreachable, which is what they would do with a slow one too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.kube import (  # noqa: E402
    KubeCluster,
    free_port,
    start_kube_cluster,
    write_serving_certificate,
)

from evently.core import migrations  # noqa: E402
from evently.core.embedded import start_embedded_postgres  # noqa: E402
from evently.services import load_service  # noqa: E402
from evently_operator.resource import FINALIZER  # noqa: E402

NAMESPACE = "bench"
GROUP_SIZE = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_with_children(pid: int) -> float:
    """CPU of a process, its live children and the children it has reaped (PostgreSQL's
    postmaster: every backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            with contextlib.suppress(OSError):
                total += cpu_seconds(int(child))
    return total


def machine_cpu_seconds() -> float:
    """CPU time spent by the whole machine (every process, every core), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values) - values[3] - values[4]  # less idle and iowait
    return busy / CLOCK_TICKS


class CpuMeter:
    """CPU seconds of each part of the setup between two snapshots: the operator, each
    Kubernetes process, PostgreSQL, this benchmark (the client), and the machine."""

    def __init__(self, parts: dict[str, Callable[[], float]]) -> None:
        self.parts = {
            **parts,
            "benchmark client": lambda: sum(os.times()[:2]),
            "machine": machine_cpu_seconds,
        }
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: read() for name, read in self.parts.items()}

    def ms_per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per object since ``start``, by part."""
        return {
            name: round((read() - self.before[name]) * 1000 / count, 2)
            for name, read in self.parts.items()
        }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def manifest(index: int, now: dt.datetime) -> dict[str, Any]:
    starts = now + dt.timedelta(days=60, minutes=index)
    iso = lambda t: t.replace(microsecond=0).isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "apiVersion": "evently.io/v1",
        "kind": "Event",
        "metadata": {
            "name": f"bench-{index:05d}",
            "labels": {"bench-group": f"g{index // GROUP_SIZE}"},
        },
        "spec": {
            "title": f"Bench event {index}",
            "type": "concert",
            "venue": {"name": f"Bench hall {index % 100}", "address": "1 Bench Street",
                      "city": "Benchville", "capacity": 500},
            "startsAt": iso(starts),
            "endsAt": iso(starts + dt.timedelta(hours=3)),
            "capacity": 100,
            "price": {"amount": "25.00", "currency": "EUR"},
            "sale": {"opensAt": iso(now + dt.timedelta(days=30))},
        },
    }  # fmt: skip


class Api:
    """The few raw API calls the benchmark makes, with the cluster's admin token."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.base = cluster.server
        context = ssl.create_default_context(cafile=str(cluster.ca_file))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=64),
            headers={"Authorization": f"Bearer {cluster.token}"},
        )
        self.events = f"/apis/evently.io/v1/namespaces/{NAMESPACE}/events"

    async def close(self) -> None:
        await self.session.close()

    async def create(self, body: dict[str, Any]) -> None:
        for _attempt in range(5):
            async with self.session.post(self.base + self.events, json=body) as response:
                if response.status in (201, 409):
                    return
                if response.status not in (429, 500, 503, 504):
                    raise RuntimeError(f"create: {response.status} {await response.text()}")
            await asyncio.sleep(1)
        raise RuntimeError("create: the API server kept refusing")

    async def watch_deletions(self, selector: str, started: asyncio.Event) -> float:
        """Watch the Events matching ``selector`` until every one there at the start is
        gone; returns when the last went (``time.monotonic()``). ``started`` is set once
        the watch runs. A watch costs the API server one event per deletion; polling the
        collection (every page of 10,000 objects read from etcd twice a second) cost it
        more than the deletions themselves."""
        params = {"labelSelector": selector, "resourceVersion": "0"}  # from the watch cache
        async with self.session.get(self.base + self.events, params=params) as response:
            listing = await response.json()
        left = {item["metadata"]["name"] for item in listing.get("items", [])}
        version = listing["metadata"]["resourceVersion"]
        gone_at = time.monotonic()
        while left:
            params = {
                "labelSelector": selector,
                "watch": "1",
                "resourceVersion": version,
                "timeoutSeconds": "600",
            }
            async with self.session.get(
                self.base + self.events, params=params, timeout=aiohttp.ClientTimeout(None)
            ) as response:
                started.set()
                async for line in response.content:
                    change = json.loads(line)
                    obj = change["object"]
                    if change["type"] == "ERROR":
                        raise RuntimeError(f"watch: {obj}")
                    version = obj["metadata"]["resourceVersion"]
                    if change["type"] == "DELETED":
                        left.discard(obj["metadata"]["name"])
                        gone_at = time.monotonic()
                        if not left:
                            break
        return gone_at

    async def count(self, selector: str | None = None, *, with_status: bool = False) -> int:
        """How many Events (matching ``selector``); with_status: that have an eventId."""
        total, token = 0, None
        while True:
            params = {"limit": "500"}
            if selector:
                params["labelSelector"] = selector
            if token:
                params["continue"] = token
            async with self.session.get(self.base + self.events, params=params) as response:
                page = await response.json()
            items = page.get("items", [])
            if with_status:
                total += sum(1 for i in items if (i.get("status") or {}).get("eventId"))
            else:
                total += len(items)
            token = page.get("metadata", {}).get("continue")
            if not token:
                return total

    async def requests(self) -> dict[str, float]:
        """The API server's answered requests so far, by "VERB resource[/subresource]"."""
        async with self.session.get(self.base + "/metrics") as response:
            text = await response.text()
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if labels.get("resource") not in ("events", "deployments"):
                continue
            key = f"{labels['verb']} {labels.get('group') or 'core'}/{labels['resource']}"
            if labels.get("subresource"):
                key += "/" + labels["subresource"]
            counts[key] = counts.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
        return counts

    async def call(self, method: str, path: str, body: Any, content_type: str) -> None:
        """One write, retried while the API server is overloaded; raises on a refusal."""
        data = json.dumps(body)
        for _attempt in range(5):
            async with self.session.request(
                method, self.base + path, data=data, headers={"Content-Type": content_type}
            ) as response:
                if response.status < 300:
                    return
                if response.status not in (429, 500, 503, 504):
                    raise RuntimeError(f"{method} {path}: {response.status}")
            await asyncio.sleep(1)
        raise RuntimeError(f"{method} {path}: the API server kept refusing")

    async def delete(self, name: str) -> None:
        """As `kubectl delete` does: one DELETE per object (a deletecollection of 1,000
        can outlast the API server's request timeout on a busy machine)."""
        for _attempt in range(5):
            async with self.session.delete(f"{self.base}{self.events}/{name}") as response:
                if response.status in (200, 202, 404):
                    return
            await asyncio.sleep(1)
        raise RuntimeError(f"delete {name}: the API server kept refusing")


CEILING_NAMESPACE = "bench-ceiling"
MERGE = "application/merge-patch+json"


def kube_event(namespace: str, name: str, reason: str, now: dt.datetime) -> dict[str, Any]:
    """A Kubernetes Event about an Event object, as the operator posts one."""
    stamp = now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {"apiVersion": "evently.io/v1", "kind": "Event",
                           "name": name, "namespace": namespace},
        "reason": reason, "message": f"{reason} by the ceiling run", "type": "Normal",
        "source": {"component": "evently-operator"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }  # fmt: skip


async def api_ceiling(
    api: Api, events: int, concurrency: int, *, finalizer_at_admission: bool, meter: CpuMeter
) -> dict[str, Any]:
    """The API server's rate for the operator's own requests, with no operator at all.

    Per creation: POST the object, PATCH its finalizer, PATCH its status (the size the
    operator writes, kopf's record included), POST a Kubernetes Event. Per deletion (the
    first 1,000): DELETE, PATCH the finalizer away, POST an Event; then the rest go.
    With the finalizer added at admission (the mutating webhook), the POST carries it and
    there is no finalizer PATCH, as for the operator.
    """
    base = f"/apis/evently.io/v1/namespaces/{CEILING_NAMESPACE}/events"
    kube_events = f"/api/v1/namespaces/{CEILING_NAMESPACE}/events"
    now = dt.datetime.now(dt.UTC)
    gate = asyncio.Semaphore(concurrency)

    async def create(index: int) -> None:
        body = manifest(index, now)
        name = body["metadata"]["name"]
        body["metadata"]["namespace"] = CEILING_NAMESPACE
        finalizer = {"metadata": {"finalizers": [FINALIZER]}}
        if finalizer_at_admission:
            body["metadata"]["finalizers"] = [FINALIZER]
        async with gate:
            await api.call("POST", base, body, "application/json")
            if not finalizer_at_admission:
                await api.call("PATCH", f"{base}/{name}", finalizer, MERGE)
            status = {"status": {
                "phase": "Scheduled", "eventId": index + 1, "observedGeneration": 1,
                "capacity": 100, "sold": 0, "available": 100,
                "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
                                "message": "the event row matches the spec",
                                "lastTransitionTime": now.isoformat()}],
                "kopf": {"lastHandledConfiguration": json.dumps(body["spec"])},
            }}  # fmt: skip
            await api.call("PATCH", f"{base}/{name}/status", status, MERGE)
            await api.call(
                "POST",
                kube_events,
                kube_event(CEILING_NAMESPACE, name, "Created", now),
                "application/json",
            )

    async def delete(index: int, *, finalize: bool) -> None:
        name = f"bench-{index:05d}"
        async with gate:
            await api.call("DELETE", f"{base}/{name}", {}, "application/json")
            await api.call("PATCH", f"{base}/{name}", {"metadata": {"finalizers": None}}, MERGE)
            if finalize:
                await api.call(
                    "POST",
                    kube_events,
                    kube_event(CEILING_NAMESPACE, name, "EventCancelled", now),
                    "application/json",
                )

    meter.start()
    started = time.monotonic()
    await asyncio.gather(*(create(i) for i in range(events)))
    create_s = time.monotonic() - started
    create_cpu = meter.ms_per(events)
    group = min(GROUP_SIZE, events)
    meter.start()
    started = time.monotonic()
    await asyncio.gather(*(delete(i, finalize=True) for i in range(group)))
    delete_s = time.monotonic() - started
    delete_cpu = meter.ms_per(group)
    await asyncio.gather(*(delete(i, finalize=False) for i in range(group, events)))
    return {
        "api_ceiling_creates_per_s": round(events / create_s, 1),
        "api_ceiling_delete_1000_s": round(delete_s, 1),
        "api_ceiling_cpu_ms_per_create": create_cpu,
        "api_ceiling_cpu_ms_per_delete": delete_cpu,
    }


def webhook_in_force(cluster: KubeCluster, webhooks: str) -> bool:
    """Whether the webhooks answer: a creation gets the finalizer at admission, or with
    validation only, an Event ending before it starts is refused (dry runs)."""
    if webhooks == "validate":
        backwards = manifest(99_998, dt.datetime.now(dt.UTC))
        backwards["spec"]["endsAt"] = "2000-01-01T00:00:00Z"
        result = cluster.kubectl(
            "-n", NAMESPACE, "create", "--dry-run=server", "-f", "-",
            input=json.dumps(backwards), check=False,
        )  # fmt: skip
        return "admission webhook" in result.stderr
    result = cluster.kubectl(
        "-n", NAMESPACE, "create", "--dry-run=server", "-o", "json", "-f", "-",
        input=json.dumps(manifest(99_999, dt.datetime.now(dt.UTC))), check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return False
    return FINALIZER in (json.loads(result.stdout)["metadata"].get("finalizers") or [])


def webhook_configurations(port: int, ca: bytes, webhooks: str) -> list[dict[str, Any]]:
    """The chart's webhook configurations by URL: both (creations judged, and given the
    finalizer, by the mutating one; updates by the validating one), or validation only."""
    if webhooks == "both":
        chosen = [
            ("ValidatingWebhookConfiguration", "validate", "/validate-event", ["UPDATE"]),
            ("MutatingWebhookConfiguration", "admit", "/admit-creation", ["CREATE"]),
        ]
    else:
        chosen = [
            ("ValidatingWebhookConfiguration", "validate", "/validate-event", ["CREATE", "UPDATE"])
        ]
    configs = []
    for kind, name, path, operations in chosen:
        configs.append({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": "evently-bench"},
            "webhooks": [{
                "name": f"{name}.events.evently.io",
                "clientConfig": {"url": f"https://127.0.0.1:{port}{path}",
                                 "caBundle": base64.b64encode(ca).decode()},
                "rules": [{"apiGroups": ["evently.io"], "apiVersions": ["v1"],
                           "operations": operations, "resources": ["events"],
                           "scope": "Namespaced"}],
                "namespaceSelector": {"matchLabels": {"evently-bench": "operator"}},
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
            }],
        })  # fmt: skip
    return configs


class Operator:
    """The operator process and its /metrics."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        profile = os.environ.get("BENCH_PROFILE")  # a path: run the operator under cProfile
        command = ["-m", "cProfile", "-o", profile] if profile else []
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, *command, "-m", "evently_operator.cli", "run"],
                env={**env, "PORT": str(self.port)},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def metrics(self) -> str:
        import urllib.request

        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if not re.match(rf"^{re.escape(name)}[{{ ]", line):
                continue
            sample, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in sample for k, v in labels.items()):
                total += float(value)
        return total

    def samples(self, name: str) -> dict[str, float]:
        """Each sample of ``name`` by its labels (``trigger="create",outcome="ok"``)."""
        found = {}
        for line in self.metrics().splitlines():
            match = re.match(rf"^{re.escape(name)}{{(.*)}} (\S+)$", line)
            if match:
                found[match.group(1)] = float(match.group(2))
        return found

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited:\n{self.log.read_text()[-3000:]}")
            try:
                self.metrics()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the operator did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def wait_until(probe: Any, timeout_s: float, what: str, every_s: float = 0.5) -> float:
    """Seconds until ``probe()`` is true; raises after ``timeout_s``."""
    started = time.monotonic()
    while True:
        if asyncio.iscoroutinefunction(probe):
            done = await probe()
        else:
            done = await asyncio.to_thread(probe)
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(every_s)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
    events = load_service("events")
    await migrations.migrate_dsn(dsn, [(events.name, events.schema)])
    results: dict[str, Any] = {
        "events": args.events,
        "concurrency": args.concurrency,
        "reconcile_interval_s": args.interval,
        "machine_cores": os.cpu_count(),
    }
    with start_kube_cluster(workdir / "kube") as cluster:
        cluster.kubectl("apply", "-f", str(ROOT / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/events.evently.io"
        )
        cluster.kubectl("create", "namespace", NAMESPACE)
        cluster.kubectl("label", "namespace", NAMESPACE, "evently-bench=operator")
        cluster.kubectl("create", "namespace", CEILING_NAMESPACE)
        env = {
            **os.environ,
            **cluster.env(),
            "DATABASE_URL": dsn,
            "INTERNAL_API_KEY": "bench-internal-key-0123456789",
            "BOOKINGS_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens
            "WATCH_NAMESPACES": NAMESPACE,
            "STANDALONE": "true",
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "RECONCILE_INTERVAL_S": str(args.interval),
        }
        if args.webhooks != "none":
            # As the chart installs it: validation and the finalizer at admission, served by
            # the operator, called by URL here (the chart's Service on a real node).
            port = free_port()
            ca, cert, key = write_serving_certificate(workdir / "webhook")
            env.update(WEBHOOK_PORT=str(port), WEBHOOK_HOST="127.0.0.1",
                       WEBHOOK_CERT_FILE=str(cert), WEBHOOK_KEY_FILE=str(key))  # fmt: skip
            for config in webhook_configurations(port, ca, args.webhooks):
                cluster.kubectl("apply", "-f", "-", input=json.dumps(config))
        results["webhooks"] = args.webhooks
        operator = Operator(env, Path(args.log) if args.log else workdir / "operator.log")
        api = Api(cluster)
        conn = await asyncpg.connect(dsn)
        try:
            operator.wait_ready()
            pid = operator.process.pid
            postmaster = server.get_pid()
            meter = CpuMeter(
                {
                    "operator": lambda: cpu_seconds(pid),
                    **{name: (lambda p=p: cpu_seconds(p)) for name, p in cluster.pids().items()},
                    "postgres": lambda: cpu_with_children(postmaster),
                }
            )
            if args.webhooks != "none":
                await wait_until(
                    lambda: webhook_in_force(cluster, args.webhooks), 60, "webhooks in force", 0.5
                )
            # 0. The API server's ceiling for the same requests, before the operator works.
            if args.ceiling:
                results.update(
                    await api_ceiling(
                        api,
                        args.events,
                        args.ceiling_concurrency,
                        finalizer_at_admission=args.webhooks == "both",
                        meter=meter,
                    )
                )
                print(
                    f"API ceiling: {results['api_ceiling_creates_per_s']} creations/s, "
                    f"1,000 deletions in {results['api_ceiling_delete_1000_s']} s"
                )
                if args.ceiling_only:
                    return results
            # 1. Creation.
            now = dt.datetime.now(dt.UTC)
            gate = asyncio.Semaphore(args.concurrency)

            async def create(index: int) -> None:
                async with gate:
                    await api.create(manifest(index, now))

            cpu_before = cpu_seconds(pid)
            meter.start()
            requests_before = await api.requests()
            passes_before = operator.samples("evently_operator_reconciles_total")
            started = time.monotonic()
            await asyncio.gather(*(create(i) for i in range(args.events)))
            results["api_create_s"] = round(time.monotonic() - started, 1)
            print(f"created {args.events} Event objects in {results['api_create_s']} s")

            def all_reconciled() -> bool:
                done = operator.metric(
                    "evently_operator_reconciles_total", trigger="create", outcome="ok"
                )
                return done >= args.events

            await wait_until(all_reconciled, args.timeout, "every Event reconciled", 1.0)

            # Reconciled means visible: every object's status carries its eventId.
            async def all_visible() -> bool:
                return await api.count(with_status=True) >= args.events

            await wait_until(all_visible, args.timeout, "every status written", 1.0)
            all_s = time.monotonic() - started
            results["all_reconciled_s"] = round(all_s, 1)
            results["creates_per_s"] = round(args.events / all_s, 1)
            results["create_cpu_s"] = round(cpu_seconds(pid) - cpu_before, 1)
            # Where the machine's CPU went, per creation: with C cores, no setup of these
            # parts can create more than C * 1000 / machine ms per second.
            results["cpu_ms_per_create"] = meter.ms_per(args.events)
            requests_after = await api.requests()
            results["api_requests_per_create"] = {
                key: round((value - requests_before.get(key, 0.0)) / args.events, 2)
                for key, value in sorted(requests_after.items())
                if value - requests_before.get(key, 0.0) >= 1 and "WATCH" not in key
            }
            # Passes by trigger and outcome while creating: one create pass each is the
            # floor; anything else (level passes, retries) is work to explain.
            passes_after = operator.samples("evently_operator_reconciles_total")
            results["passes_per_create"] = {
                labels: round((value - passes_before.get(labels, 0.0)) / args.events, 2)
                for labels, value in sorted(passes_after.items())
                if value - passes_before.get(labels, 0.0) >= 1
            }
            with_status = await api.count(with_status=True)
            rows = await conn.fetchval(
                "SELECT count(*) FROM events.events WHERE managed_by LIKE 'kubernetes:%'"
            )
            results["with_event_id"] = with_status
            results["rows"] = rows
            print(f"reconciled in {all_s:.1f} s; {with_status} with an eventId, {rows} rows")

            # 2. Idle.
            await asyncio.sleep(args.warmup)
            sweeps_before = operator.metric("evently_operator_sweep_duration_seconds_count")
            sweep_s_before = operator.metric("evently_operator_sweep_duration_seconds_sum")
            wakes_before = operator.metric("evently_operator_sweep_wakes_total")
            cpu_before = cpu_seconds(pid)
            await asyncio.sleep(args.idle)
            cpu = cpu_seconds(pid) - cpu_before
            sweeps = (
                operator.metric("evently_operator_sweep_duration_seconds_count") - sweeps_before
            )
            sweep_s = (
                operator.metric("evently_operator_sweep_duration_seconds_sum") - sweep_s_before
            )
            results["idle_window_s"] = args.idle
            results["idle_cpu_fraction"] = round(cpu / args.idle, 3)
            results["idle_sweeps"] = int(sweeps)
            results["idle_sweep_mean_s"] = round(sweep_s / sweeps, 3) if sweeps else None
            results["idle_passes"] = int(
                operator.metric("evently_operator_sweep_wakes_total") - wakes_before
            )
            results["operator_rss_mb"] = round(rss_mb(pid), 1)
            print(f"idle: {results['idle_cpu_fraction']:.1%} of a core")

            # 3. Staleness: bookings publishes new figures for 100 Events.
            rows_now = await conn.fetch(
                "SELECT id FROM events.events WHERE managed_by LIKE 'kubernetes:%' "
                "ORDER BY id LIMIT 100"
            )
            ids = [r["id"] for r in rows_now]
            level_before = operator.metric("evently_operator_reconciles_total", trigger="level")
            await conn.executemany(
                "INSERT INTO events.availability (event_id, version, capacity, sold, held,"
                " available, on_sale, sold_out, status) VALUES ($1, 2, 100, 1, 0, 99, false,"
                " false, 'published')",
                [(i,) for i in ids],
            )
            stale_s = await wait_until(
                lambda: (
                    operator.metric("evently_operator_reconciles_total", trigger="level")
                    >= level_before + len(ids)
                ),
                2 * args.interval + 60,
                "a pass for each changed Event",
            )
            results["figures_to_pass_s"] = round(stale_s, 1)
            print(f"published figures reached a pass within {stale_s:.1f} s")

            # 4. Deleting 1,000.
            group_size = min(GROUP_SIZE, args.events)
            requests_before = await api.requests()
            watching = asyncio.Event()
            watch = asyncio.create_task(api.watch_deletions("bench-group=g0", watching))
            await asyncio.wait_for(watching.wait(), 60)
            delete_cpu_before = cpu_seconds(pid)
            meter.start()
            started = time.monotonic()

            async def delete(index: int) -> None:
                async with gate:
                    await api.delete(f"bench-{index:05d}")

            await asyncio.gather(*(delete(i) for i in range(group_size)))
            results["api_delete_s"] = round(time.monotonic() - started, 1)
            gone_at = await asyncio.wait_for(watch, args.timeout)
            results["delete_1000_s"] = round(gone_at - started, 1)
            results["delete_cpu_s"] = round(cpu_seconds(pid) - delete_cpu_before, 1)
            results["cpu_ms_per_delete"] = meter.ms_per(group_size)
            requests_after = await api.requests()
            results["api_requests_per_delete"] = {
                key: round((value - requests_before.get(key, 0.0)) / group_size, 2)
                for key, value in sorted(requests_after.items())
                if value - requests_before.get(key, 0.0) >= 1 and "WATCH" not in key
            }
            results["deleted"] = group_size
            retired = await conn.fetchval(
                "SELECT count(*) FROM events.events WHERE status = 'cancelled' "
                "AND managed_by IS NULL"
            )
            results["retired_rows"] = retired
            print(f"deleted {group_size} in {results['delete_1000_s']} s ({retired} retired)")
            if args.ceiling:
                results["creates_fraction_of_ceiling"] = round(
                    results["creates_per_s"] / results["api_ceiling_creates_per_s"], 2
                )
                results["delete_ceiling_fraction"] = round(
                    results["api_ceiling_delete_1000_s"] / results["delete_1000_s"], 2
                )
        finally:
            await conn.close()
            await api.close()
            operator.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent creates")
    parser.add_argument("--interval", type=float, default=15.0, help="RECONCILE_INTERVAL_S")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before idling")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measured")
    parser.add_argument("--timeout", type=float, default=1800.0, help="cap per phase")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "operator.json"))
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip the API server's ceiling run (step 7)",
    )
    parser.add_argument(
        "--webhooks",
        choices=("both", "validate", "none"),
        default="both",
        help="the chart's admission webhooks served by the operator: both (as installed), "
        "validation only (the finalizer is then PATCHed in), or none",
    )
    parser.add_argument(
        "--ceiling-only", action="store_true", help="only the API server's ceiling run"
    )
    parser.add_argument(
        "--ceiling-concurrency",
        type=int,
        default=32,
        help="concurrent object lifecycles in the ceiling run (32, 128 and 256 measured alike)",
    )
    parser.add_argument("--log", help="keep the operator's log here (default: discarded)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
