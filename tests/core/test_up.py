"""`evently up` serves the whole platform on a free port with an embedded database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.raw_http import raw_request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("up") / ".evently"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        [sys.executable, "-m", "evently", "up", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"evently up exited early:\n{process.stdout.read()}")
        try:
            if fetch(base + "/healthz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("evently up did not serve /healthz within 90 s")
    yield base, process, data_dir
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serves_health_and_readiness(platform):
    base, _, _ = platform
    assert fetch(base + "/healthz")[0] == 200
    deadline = time.monotonic() + 30
    status = 0
    while time.monotonic() < deadline and status != 200:
        status, _, body = fetch(base + "/readyz")
        time.sleep(0.2)
    assert status == 200, body
    checks = json.loads(body)["checks"]
    assert set(checks) == {"users", "events", "bookings", "search", "analytics"}


def test_unknown_path_is_a_problem_404(platform):
    base, _, _ = platform
    status, headers, body = fetch(base + "/nope")
    assert status == 404
    assert headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(body)["code"] == "not_found"


def test_internal_routes_are_not_public(platform):
    base, _, _ = platform
    status, _, _ = fetch(base + "/internal/inbox")
    assert status == 404


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/users/%2e%2e/%2e%2e/%2e%2e/internal/users/1",
        "/api/v1/users/../../../internal/users/1",
        "/api/v1/bookings/%2e%2e/%2e%2e/%2e%2e/metrics",
    ],
)
async def test_dot_segments_never_reach_a_service_internals(platform, target):
    # The three requests of the security finding, sent verbatim (curl --path-as-is).
    base, _, _ = platform
    port = int(base.rsplit(":", 1)[1])
    response = await raw_request("127.0.0.1", port, target)
    assert response.status == 400, response.body
    assert response.json()["code"] == "invalid_path"


def test_metrics_are_prometheus_text(platform):
    from prometheus_client.parser import text_string_to_metric_families

    base, _, _ = platform
    status, _headers, body = fetch(base + "/metrics")
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert "evently_http_requests" in names


def test_serves_the_merged_openapi_document(platform):
    base, _, _ = platform
    status, _, body = fetch(base + "/openapi.json")
    assert status == 200
    assert json.loads(body)["openapi"].startswith("3.1")


def test_embedded_data_lives_in_the_data_dir(platform):
    _, _, data_dir = platform
    assert (Path(data_dir) / "pgdata" / "PG_VERSION").exists()
    assert (Path(data_dir) / "secrets.json").exists()


def test_sigterm_stops_it_cleanly(platform):
    _base, process, _ = platform
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
