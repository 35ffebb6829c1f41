"""Property-based fuzzing of every public operation, driven by the OpenAPI document.

Schemathesis generates requests from the gateway's public document, valid ones and
invalid ones (wrong types, missing or unknown fields, hostile strings), and sends them
with a valid admin token to the whole platform (`evently up --demo`, a real Prometheus
behind the traffic endpoint). Every response must:

- never be a server error (no 5xx at all: the platform here is healthy);
- be problem+json when it is an error;
- conform to what the document declares for its operation and status (the one
  response validator, ``tests/support/openapi_validation.py``).

The seed is fixed (``EVENTLY_FUZZ_SEED``, default below), so CI is deterministic;
``make fuzz`` runs with a fresh seed, more examples, and prints the seed. The endless
availability and notification streams are left out. Counts go to ``bench-results/fuzz.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from evently.gateway.up import merged_openapi
from tests.support.openapi_validation import validate_response
from tests.support.platform import Platform, running_platform
from tests.support.prometheus import run_prometheus

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEED = 20261203
SEED = int(os.environ.get("EVENTLY_FUZZ_SEED", DEFAULT_SEED))
EXAMPLES = int(os.environ.get("EVENTLY_FUZZ_EXAMPLES", "12"))
REPORT = ROOT / "bench-results" / "fuzz.json"
DOCUMENT = merged_openapi()
NEVER_ENDING = {
    ("get", "/api/v1/events/{id}/availability/stream"),
    ("get", "/api/v1/notifications/stream"),
    ("get", "/api/v1/events/{id}/waiting-room/me/stream"),
}
OPERATIONS = [
    (method, path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
    if (method, path) not in NEVER_ENDING
]
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("fuzz")
    with (
        run_prometheus(workdir / "prometheus") as prometheus,
        running_platform(
            workdir / ".evently",
            env={
                "PROMETHEUS_URL": prometheus.url,
                # Fuzzing registers and logs in far more often than a person would.
                "REGISTER_ADDRESS_MAX_ATTEMPTS": "1000000",
                "LOGIN_ADDRESS_MAX_ATTEMPTS": "1000000",
                "LOGIN_ACCOUNT_MAX_ATTEMPTS": "1000000",
            },
        ) as running,
    ):
        running.output.wait_for("  booking  #")  # the demo data is in
        yield running
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"seed": SEED, **TALLY}, indent=2, sort_keys=True) + "\n")
    print(f"\nfuzz: seed {SEED}, {TALLY['cases']} cases, {TALLY['server_errors']} server errors")


@pytest.fixture(scope="module")
def admin_headers(platform: Platform) -> dict[str, str]:
    from evently.users.demo import ADMIN_EMAIL, ADMIN_PASSWORD

    response = requests.post(
        platform.base + "/api/v1/auth/admin/login",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(DOCUMENT)


def header(response: Any, name: str) -> str:
    """One response header (schemathesis keeps them as lower-cased lists)."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return ""


def problems_with(method: str, path: str, response: Any) -> list[str]:
    """What is wrong with one fuzzed response (empty when nothing is)."""
    status = response.status_code
    content_type = header(response, "Content-Type")
    problems = []
    if status >= 500:
        problems.append(f"{method.upper()} {path} -> server error {status}: {response.text[:300]}")
    if status >= 400 and not content_type.startswith("application/problem+json"):
        problems.append(f"{method.upper()} {path} -> {status} as {content_type!r}, not problem")
    problems += validate_response(DOCUMENT, method, path, status, content_type, response.content)
    return problems


def fuzz(
    operation: Any, mode: GenerationMode, base: str, headers: dict[str, str], found: list[str]
) -> None:
    """Send ``EXAMPLES`` generated requests of one mode; collect what is wrong."""

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        response = case.call(base_url=base, headers=headers, timeout=30)
        TALLY["cases"] += 1
        TALLY[f"status_{response.status_code}"] += 1
        TALLY["server_errors"] += response.status_code >= 500
        problems = problems_with(operation.method, operation.path, response)
        found.extend(f"[{mode.value}] {problem}" for problem in problems)

    # Unsatisfiable: nothing invalid can be generated for it (no parameters, no body).
    with contextlib.suppress(Unsatisfiable):
        send()


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzzed_requests_get_declared_answers_and_never_a_server_error(
    platform: Platform, admin_headers: dict[str, str], schema: Any, method: str, path: str
) -> None:
    operation = schema[path][method.upper()]
    found: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        fuzz(operation, mode, platform.base, admin_headers, found)
    assert found == [], "\n".join(found[:20])
