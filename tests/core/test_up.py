"""`evently up` serves the whole platform on a free port with an embedded database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from evently.services import SERVICE_NAMES
from tests.support.platform import fetch, running_platform
from tests.support.raw_http import raw_request


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """`evently up --demo`, as `make run` starts it: (base URL, process, data dir)."""
    with running_platform(tmp_path_factory.mktemp("up") / ".evently") as running:
        running.process.output = running.output
        yield running.base, running.process, running.data_dir


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
    assert set(checks) == {
        "users",
        "events",
        "bookings",
        "search",
        "analytics",
        "notifications",
        "waiting_room",
    }


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


def test_it_prints_the_embedded_database_url_for_the_admin_commands(platform):
    _, process, _ = platform
    line = process.output.wait_for("DATABASE_URL=")
    assert line.split("DATABASE_URL=", 1)[1].startswith("postgresql://")


async def test_the_embedded_database_takes_every_services_pools_full_at_once(platform):
    """Seven services with full pools and their relay and LISTEN connections need more
    than initdb's default max_connections (100, 97 usable): `evently up` raises it, so a
    local load test never meets "too many clients already"."""
    from evently.core.db import connections_needed
    from evently.core.settings import load_settings
    from evently.gateway.up import ADMIN_CONNECTIONS, dev_secrets
    from evently.services import all_services

    _, process, data_dir = platform
    dsn = process.output.wait_for("DATABASE_URL=").split("DATABASE_URL=", 1)[1].strip()
    env = {"DATABASE_URL": dsn, **dev_secrets(Path(data_dir))}
    env |= {f"{name.upper()}_URL": "http://127.0.0.1:1" for name in SERVICE_NAMES}
    demand = ADMIN_CONNECTIONS + sum(
        connections_needed(
            load_settings(svc.settings_class, {**svc.dev_settings, **env}, host="h", port=1)
        )
        for svc in all_services()
    )
    assert demand > 97  # what made this matter
    conn = await asyncpg.connect(dsn)
    try:
        usable = await conn.fetchval(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        )
    finally:
        await conn.close()
    assert usable >= demand


def test_the_demo_books_an_upcoming_event(platform):
    base, process, _ = platform
    line = process.output.wait_for("  booking  #")
    assert "confirmed" in line, process.output.text()
    page = json.loads(fetch(base + "/api/v1/events?limit=100")[2])
    assert page["total"] >= 1
    now = datetime.now(UTC)
    for event in page["items"]:
        assert datetime.fromisoformat(event["ends_at"]) > now, event


def test_the_demo_searches_it_suggests_find_events(platform):
    from evently.demo import SUGGESTED_PREFIX, SUGGESTED_SEARCH

    base, process, _ = platform
    process.output.wait_for(f"search?q={SUGGESTED_SEARCH}")
    deadline = time.monotonic() + 60  # search is fed through the events outbox
    found = suggestions = []
    while time.monotonic() < deadline and not (found and suggestions):
        found = json.loads(fetch(f"{base}/api/v1/search?q={SUGGESTED_SEARCH}")[2])["hits"]
        answer = json.loads(fetch(f"{base}/api/v1/search/suggest?q={SUGGESTED_PREFIX}")[2])
        suggestions = answer["events"]
        time.sleep(0.5)
    assert found, "the suggested search finds nothing"
    assert suggestions, "the suggested prefix suggests nothing"


def test_a_port_already_taken_is_a_clear_message_not_a_traceback(platform, tmp_path):
    base, _, _ = platform
    taken = base.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "evently", "up", "--port", taken, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"127.0.0.1:{taken}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "pgdata").exists()  # nothing was started


def test_a_client_generated_from_the_openapi_document_books_without_extra_headers(
    platform, tmp_path
):
    # openapi-python-client is what a customer would run; the document must be enough.
    base, _, _ = platform
    (tmp_path / "openapi.json").write_bytes(fetch(base + "/openapi.json")[2])
    # The generator reads only JSON, text and octet-stream bodies; its documented
    # override maps the ticket QR images (image/png, image/svg+xml) to bytes.
    (tmp_path / "config.yaml").write_text(
        "content_type_overrides:\n"
        "  image/png: application/octet-stream\n"
        "  image/svg+xml: application/octet-stream\n"
    )
    tools = Path(sys.executable).parent
    generated = subprocess.run(
        [
            str(tools / "openapi-python-client"), "generate", "--meta", "none",
            "--path", str(tmp_path / "openapi.json"),
            "--config", str(tmp_path / "config.yaml"),
            "--output-path", str(tmp_path / "evently_client"),
        ],
        env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        book_with_the_generated_client(base)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "evently_client"]:
            del sys.modules[name]


def book_with_the_generated_client(base: str) -> None:
    import importlib

    def module(name: str):
        return importlib.import_module(f"evently_client.{name}")

    client_module = module("client")
    models = module("models")
    anonymous = client_module.Client(base_url=base)
    session = module("api.users.users_register").sync(
        client=anonymous,
        body=models.RegisterIn(
            email=f"generated-{uuid.uuid4().hex[:8]}@example.com",
            password="correct-Horse-battery",
            name="Generated",
        ),
    )
    assert isinstance(session, models.SessionOut), session
    buyer = client_module.AuthenticatedClient(base_url=base, token=session.access_token)
    page = module("api.events.events_list_published_events").sync(client=anonymous)
    assert page.items, "the demo catalogue is empty"
    booking = None
    for _ in range(60):  # the events outbox may not have reached bookings yet
        booking = module("api.bookings.bookings_create_booking").sync(
            client=buyer,
            body=models.BookingCreate(event_id=page.items[-1].id, quantity=1),
            idempotency_key=str(uuid.uuid4()),
        )
        if isinstance(booking, models.BookingOut):
            break
        time.sleep(0.5)
    assert isinstance(booking, models.BookingOut), booking
    confirmed = module("api.bookings.bookings_confirm_booking").sync(booking.id, client=buyer)
    assert isinstance(confirmed, models.BookingOut), confirmed
    assert confirmed.status.value == "confirmed"


def test_sigterm_stops_it_cleanly(platform):
    _base, process, _ = platform
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
