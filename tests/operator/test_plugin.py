"""``kubectl evently``: the plugin found by the real kubectl, against the real API server
(and, for ``bench``, against the real platform served by ``evently up``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from evently_operator.kubectl import views
from tests.operator.conftest import event_manifest, iso_in, wait_for
from tests.operator.test_scaling_live import deployment, scaling
from tests.support.kube import free_port

BIN = Path(sys.executable).parent


def plugin(kube, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``kubectl evently ARGS``: kubectl finds kubectl-evently on PATH."""
    env = {**os.environ, **kube.env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [kube.kubectl_path, "evently", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


async def test_status_shows_sales_and_scaling_and_the_sale_opens_and_closes(
    operator, resources, kube, namespace
):
    resources.apply(deployment("web", 1))
    resources.apply(event_manifest("rush", opens_in=-5, closes_in=3600, capacity=50,
                                   scaling=scaling("web", 3)))  # fmt: skip
    resources.apply(event_manifest("later", opens_in=3600))
    await wait_for(lambda: resources.status("rush").get("phase") == "OnSale", what="OnSale")
    await wait_for(lambda: resources.get("web", kind="deployment")["spec"]["replicas"] == 3,
                   what="scaled")  # fmt: skip
    await wait_for(lambda: resources.status("later").get("phase") == "Scheduled", what="later")

    result = plugin(kube, "-n", namespace, "status")
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.strip().splitlines()
    assert header.split() == ["NAME", "PHASE", "READY", "SOLD", "HELD", "AVAILABLE", "WAITLIST",
                              "SCALING"]  # fmt: skip
    rows = {cells[0]: cells for cells in (re.split(r" {3,}", line.strip()) for line in lines)}
    rush = rows["rush"]
    assert (rush[1], rush[3], rush[5]) == ("OnSale", "0", "50"), rush
    assert rush[7].startswith("web: 3 replicas, window open until") and "recorded 1" in rush[7]
    assert (rows["later"][1], rows["later"][7]) == ("Scheduled", "-")

    result = plugin(kube, "-n", namespace, "open-sale", "later", "NOW")
    assert result.returncode == 0, result.stderr
    await wait_for(lambda: resources.status("later").get("phase") == "OnSale", what="opened")
    result = plugin(kube, "-n", namespace, "close-sale", "later")
    assert result.returncode == 0, result.stderr
    await wait_for(lambda: resources.status("later").get("phase") == "Closed", what="closed")
    # Open again after closing: the past closing time goes, the sale runs to the end.
    assert plugin(kube, "-n", namespace, "open-sale", "later", "now").returncode == 0
    await wait_for(lambda: resources.status("later").get("phase") == "OnSale", what="reopened")
    assert "closesAt" not in resources.get("later")["spec"]["sale"]

    refused = plugin(kube, "-n", namespace, "close-sale", "later", iso_in(-7200))
    assert refused.returncode == 1 and "nothing to close yet" in refused.stderr


def test_status_flags_an_event_nobody_reconciles():
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    stray = {"metadata": {"namespace": "default", "name": "stray",
                          "creationTimestamp": "2026-12-31T23:58:00Z"}, "spec": {}}  # fmt: skip
    assert views.status_row(stray, None, now)[2] == "<unwatched?>"
    fresh = {
        **stray,
        "metadata": {**stray["metadata"], "creationTimestamp": "2027-01-01T00:00:00Z"},
    }
    assert views.status_row(fresh, None, now)[2] == "<pending>"


def test_drain_closes_the_sale_and_waits_until_nothing_is_held(kube, namespace, resources):
    # No operator here: the test plays its part by writing the status itself.
    resources.apply(event_manifest("busy", opens_in=-60, closes_in=3600))

    def write_status(**status) -> None:
        kube.kubectl("-n", namespace, "patch", "evt", "busy", "--subresource=status",
                     "--type=merge", "-p", json.dumps({"status": status}))  # fmt: skip

    write_status(
        phase="OnSale", held=2, observedGeneration=resources.get("busy")["metadata"]["generation"]
    )
    timed_out = plugin(kube, "-n", namespace, "drain", "busy", "--timeout", "2", "--poll", "0.5")
    assert timed_out.returncode == 1
    assert "2 seat(s) still held" in timed_out.stderr
    closes = resources.get("busy")["spec"]["sale"]["closesAt"]
    assert closes <= iso_in(1)  # closed now: bookings refuses new holds from here on

    env = {**os.environ, **kube.env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen(
        [kube.kubectl_path, "evently", "-n", namespace, "drain", "busy", "--timeout", "60",
         "--poll", "0.5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        generation = None
        deadline = time.monotonic() + 30
        while generation is None or generation == resources.get("busy")["metadata"]["generation"]:
            generation = resources.get("busy")["metadata"]["generation"]
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
        # The operator's part: it saw the new window, and the last holds were confirmed.
        write_status(held=0, observedGeneration=resources.get("busy")["metadata"]["generation"])
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "drained" in out


def test_bench_refuses_to_run_without_yes(kube):
    result = plugin(kube, "bench", "--url", "http://127.0.0.1:9", "--admin-token", "t")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr


@pytest.fixture
def platform(database_url, tmp_path):
    """`evently up` on this test's database, as an installed platform would answer."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
           "BCRYPT_ROUNDS": "4"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "evently", "up", "--port", str(port),
         "--data-dir", str(tmp_path / ".evently")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except (OSError, urllib.error.HTTPError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("evently up did not become ready")
        time.sleep(0.3)
    subprocess.run(
        [sys.executable, "-m", "evently", "users", "create-admin", "--email",
         "bench-admin@example.com", "--password-stdin"],
        input="Bench-admin-pass-1\n", env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    request = urllib.request.Request(
        base + "/api/v1/auth/admin/login",
        data=json.dumps({"email": "bench-admin@example.com",
                         "password": "Bench-admin-pass-1"}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.loads(response.read())["access_token"]
    yield base, token
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_bench_sells_out_a_throwaway_event_without_overselling(kube, platform):
    base, token = platform
    result = plugin(kube, "bench", "--url", base, "--admin-token", token, "--seats", "20",
                    "--buyers", "4", "--duration", "60", "--yes", timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = dict(
        line.strip().split(": ", 1) for line in result.stdout.splitlines()[1:] if ": " in line
    )
    assert (report["confirmed"], report["sold"], report["oversold"]) == ("20", "20", "0")
    assert report["errors"] == "0"
