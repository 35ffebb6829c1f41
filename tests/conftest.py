"""Suite-wide fixtures: a real PostgreSQL and per-test isolated databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from evently.core.app import create_app
from evently.core.settings import load_settings
from evently.core.signing_keys import generate_signing_keys_json
from evently.services import load_service
from tests.support.postgres import DatabaseFactory, postgres_server

# Every response a service sends in the suite is checked against its OpenAPI document.
pytest_plugins = ["tests.support.response_checks"]

INTERNAL_API_KEY = "test-internal-key-0123456789"
# The users service's signing key (its pod gets JWT_SIGNING_KEYS from a Secret).
JWT_SIGNING_KEYS = generate_signing_keys_json()
# The bookings service's ticket signing key (its own key set, not the token keys).
TICKET_SIGNING_KEYS = generate_signing_keys_json()
# The waiting room's admission token key (its own key set again).
ADMISSION_SIGNING_KEYS = generate_signing_keys_json()


def pytest_configure(config: pytest.Config) -> None:
    """Give each run its own temp root: pytest's shared /tmp/pytest-of-<user> rotation
    deletes other concurrent runs' directories, embedded database included."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="evently-pytest-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin DSN of the suite's PostgreSQL (DATABASE_URL, else embedded)."""
    with postgres_server(tmp_path_factory.mktemp("postgres")) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def databases(pg_admin_dsn: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_admin_dsn)
    factory.build_template()
    yield factory
    factory.drop_all()


@pytest.fixture
async def database_url(databases: DatabaseFactory) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test only."""
    dsn = await databases.create()
    yield dsn
    await databases.drop(dsn)


@pytest.fixture
def service_env(database_url: str) -> dict[str, str]:
    """The environment a service would get in its pod, pointing at this test's database."""
    return {
        "DATABASE_URL": database_url,
        "INTERNAL_API_KEY": INTERNAL_API_KEY,
        "JWT_SIGNING_KEYS": JWT_SIGNING_KEYS,
        "TICKET_SIGNING_KEYS": TICKET_SIGNING_KEYS,
        "ADMISSION_SIGNING_KEYS": ADMISSION_SIGNING_KEYS,
        "BCRYPT_ROUNDS": "4",  # the users service's cheapest cost: tests need speed, not strength
        "LOG_LEVEL": os.environ.get("EVENTLY_TEST_LOG_LEVEL", "WARNING"),
    }


@pytest.fixture
def make_app(service_env: dict[str, str]) -> Callable[..., web.Application]:
    """Build a service's real application: ``make_app("events", PORT=...)``."""

    def build(service: str, env: dict[str, str] | None = None, **overrides: Any) -> web.Application:
        definition = load_service(service)
        settings = load_settings(
            definition.settings_class, {**service_env, **(env or {})}, **overrides
        )
        return create_app(definition, settings)

    return build


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
