"""The customer journey (tests/support/journey.py) against `evently up` on this machine.

tests/e2e/test_customers.py runs the same file inside the test cluster, so what passes
here and there is one scenario.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from evently.users.demo import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support import journey

READY_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`evently up --demo` (embedded PostgreSQL, demo admin) on a free port."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("journey") / ".evently"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "evently", "up", "--demo", "--port", str(port)]
    log = data_dir.parent / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:  # ready once it serves and has printed the demo accounts
        if process.poll() is not None:
            pytest.fail(f"evently up exited early:\n{log.read_text()}")
        if "Demo data:" in log.read_text() and ready(base):
            break
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"evently up not ready within {READY_TIMEOUT_S}s")
        time.sleep(0.2)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def check_journey(seen: dict) -> None:
    """What every run of the journey must have seen, wherever it ran."""
    assert seen["event_id"] in seen["search_ids"]
    assert seen["stream_content_type"].startswith("text/event-stream")
    assert seen["stream_first"]["available"] == 2
    assert seen["hold_status"] == "held"
    assert (seen["stream_after_hold"]["held"], seen["stream_after_hold"]["available"]) == (2, 0)
    assert seen["waitlist_joined"] == ["waiting", 1]
    assert (seen["confirm_status"], seen["cancel_status"]) == ("confirmed", "cancelled")
    assert seen["offer_confirmed"] == ["confirmed", 1]
    assert seen["waitlist_final"] == "converted"
    assert seen["alice_bookings"] == ["cancelled"]


def test_the_customer_journey_through_the_gateway(gateway: str) -> None:
    check_journey(journey.run([(".*", gateway)], ADMIN_EMAIL, ADMIN_PASSWORD))
