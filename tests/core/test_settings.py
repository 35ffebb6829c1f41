"""Settings: typed, from the environment, and a bad start names the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evently.core.settings import CommonSettings, SettingsError, load_settings

VALID = {"DATABASE_URL": "postgresql://db/evently", "INTERNAL_API_KEY": "k" * 20}


def test_defaults_and_conversions():
    settings = load_settings(
        CommonSettings, {**VALID, "PORT": "9000", "TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"}
    )
    assert settings.port == 9000
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert settings.log_level == "INFO"
    assert settings.effective_jwks_url == "http://users:8080/.well-known/jwks.json"


def test_missing_required_variables_are_all_named():
    with pytest.raises(SettingsError) as failure:
        load_settings(CommonSettings, {})
    text = str(failure.value)
    assert "DATABASE_URL is required" in text
    assert "INTERNAL_API_KEY is required" in text


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PORT", "eighty", "PORT='eighty' is invalid: expected a TCP port"),
        ("PORT", "70000", "PORT='70000' is invalid"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is invalid: expected one of DEBUG"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL='mysql://x' is invalid"),
        ("INTERNAL_API_KEY", "short", "INTERNAL_API_KEY='short' is invalid"),
        ("DB_POOL_MAX", "0", "DB_POOL_MAX='0' is invalid"),
    ],
)
def test_bad_values_name_the_variable_and_what_it_expects(variable, value, expected):
    with pytest.raises(SettingsError) as failure:
        load_settings(CommonSettings, {**VALID, variable: value})
    assert expected in str(failure.value)


def test_overrides_win_over_the_environment():
    settings = load_settings(CommonSettings, {**VALID, "PORT": "9000"}, port=9100)
    assert settings.port == 9100


def test_serve_refuses_to_start_and_names_the_variable():
    result = subprocess.run(
        [sys.executable, "-m", "evently", "serve", "events"],
        env={"PATH": "/usr/bin:/bin", "PORT": "nope", "INTERNAL_API_KEY": "k" * 20},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL is required" in result.stderr
    assert "PORT='nope' is invalid" in result.stderr


def test_only_the_given_environment_is_read_and_empty_values_mean_unset(monkeypatch):
    monkeypatch.setenv("PORT", "9999")  # the process's environment is not the one given
    settings = load_settings(
        CommonSettings, {**VALID, "JWKS_URL": "", "CORS_ALLOWED_ORIGINS": "", "HOST": "::"}
    )
    assert settings.port == 8080
    assert settings.jwks_url == "" and settings.cors_allowed_origins == ()
    assert settings.host == "::"
    with pytest.raises(SettingsError, match="DATABASE_URL is required"):
        load_settings(CommonSettings, {**VALID, "DATABASE_URL": ""})
    with pytest.raises(
        SettingsError, match=r"TRUSTED_PROXIES='10\.0\.0\.1,10\.0\.0\.0/33' is invalid"
    ):
        load_settings(CommonSettings, {**VALID, "TRUSTED_PROXIES": "10.0.0.1,10.0.0.0/33"})


def test_settings_are_frozen():
    settings = load_settings(CommonSettings, VALID)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
