"""The operator's settings come from the environment and a bad start names the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evently.core.settings import SettingsError
from evently_operator.config import load_operator_settings

VALID = {"DATABASE_URL": "postgresql://db/evently", "INTERNAL_API_KEY": "k" * 20}


def test_defaults():
    settings = load_operator_settings(VALID)
    assert settings.watch_namespaces == ()  # all namespaces
    assert settings.peering_name == "evently-operator"
    assert 1 <= settings.effective_peering_priority <= 1_000_000
    assert settings.reconcile_interval_s == 15.0
    assert settings.bookings_url == "http://bookings:8080"


def test_watched_namespaces_and_intervals_are_read():
    settings = load_operator_settings(
        {**VALID, "WATCH_NAMESPACES": "shows, sports", "RECONCILE_INTERVAL_S": "2.5",
         "PEERING_PRIORITY": "7", "BOOKINGS_URL": "http://bookings.evently:8080"}
    )  # fmt: skip
    assert settings.watch_namespaces == ("shows", "sports")
    assert (settings.reconcile_interval_s, settings.effective_peering_priority) == (2.5, 7)
    assert settings.bookings_url == "http://bookings.evently:8080"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WATCH_NAMESPACES", "Shows"),
        ("PEERING_PRIORITY", "0"),
        ("RECONCILE_INTERVAL_S", "0"),
        ("PEERING_LIFETIME_S", "1"),
        ("STANDALONE", "maybe"),
        ("PEERING_SETTLE_S", "-1"),
        ("WEBHOOK_PORT", "70000"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value):
    with pytest.raises(SettingsError) as failure:
        load_operator_settings({**VALID, variable: value})
    assert f"{variable}={value!r} is invalid" in str(failure.value)


def test_a_webhook_needs_its_certificate():
    assert load_operator_settings(VALID).webhook_port is None  # no webhook by default
    with pytest.raises(SettingsError) as failure:
        load_operator_settings({**VALID, "WEBHOOK_PORT": "9443"})
    assert "WEBHOOK_CERT_FILE" in str(failure.value)
    settings = load_operator_settings(
        {**VALID, "WEBHOOK_PORT": "9443", "WEBHOOK_CERT_FILE": "/tls/tls.crt",
         "WEBHOOK_KEY_FILE": "/tls/tls.key"}
    )  # fmt: skip
    assert (settings.webhook_port, settings.webhook_host) == (9443, "0.0.0.0")


def test_the_command_refuses_to_start_without_its_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INTERNAL_API_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "evently_operator.cli", "run"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "DATABASE_URL is required" in result.stderr
    assert "INTERNAL_API_KEY is required" in result.stderr
