"""Typed settings read from the environment, in one place.

Each service declares a frozen dataclass whose fields carry the environment variable
they come from (``setting("PORT", 8080, "a TCP port")``). ``load_settings`` reads and
converts every field and, if anything is missing or malformed, raises one
``SettingsError`` that names each variable and what it expects.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")
_REQUIRED = object()


class SettingsError(Exception):
    """Raised when one or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


def setting(env: str, default: Any = _REQUIRED, expects: str = "") -> Any:
    """Declare a settings field read from the environment variable ``env``."""
    metadata = {"env": env, "expects": expects}
    if default is _REQUIRED:
        return field(metadata=metadata)
    if isinstance(default, list | dict | set):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false")


def _convert(raw: str, hint: Any) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if raw == "":
            return None
        return _convert(raw, inner[0])
    if origin is Literal:
        choices = get_args(hint)
        if raw not in choices:
            raise ValueError(f"one of {', '.join(map(str, choices))}")
        return raw
    if origin in (list, tuple):
        items = [item.strip() for item in raw.split(",") if item.strip()]
        converted = [_convert(item, get_args(hint)[0]) for item in items]
        return tuple(converted) if origin is tuple else converted
    if hint is bool:
        return _parse_bool(raw)
    if hint is int:
        return int(raw)
    if hint is float:
        return float(raw)
    if hint is str:
        return raw
    raise TypeError(f"unsupported settings type {hint!r}")


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _describe(next(a for a in get_args(hint) if a is not type(None)))
    if origin is Literal:
        return "one of " + ", ".join(map(str, get_args(hint)))
    if origin in (list, tuple):
        return f"a comma-separated list of {_describe(get_args(hint)[0])}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build ``cls`` from ``environ`` (default ``os.environ``); ``overrides`` win over both."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in overrides:
            values[f.name] = overrides[f.name]
            continue
        env = f.metadata.get("env")
        if env is None:
            continue
        hint = hints[f.name]
        expects = f.metadata.get("expects") or _describe(hint)
        raw = environ.get(env)
        if raw is None or (raw == "" and f.default is dataclasses.MISSING):
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{env} is required: expected {expects}")
            continue
        try:
            values[f.name] = _convert(raw, hint)
        except ValueError:
            problems.append(f"{env}={raw!r} is invalid: expected {expects}")
            continue
        validator = getattr(cls, f"check_{f.name}", None)
        if validator is not None:
            message = validator(values[f.name])
            if message:
                problems.append(f"{env}={raw!r} is invalid: {message}")
    if problems:
        raise SettingsError(problems)
    return cls(**values)


@dataclass(frozen=True, kw_only=True)
class CommonSettings:
    """Settings every service shares."""

    database_url: str = setting("DATABASE_URL", expects="a PostgreSQL DSN (postgresql://...)")
    host: str = setting("HOST", "0.0.0.0", "an address to bind")
    port: int = setting("PORT", 8080, "a TCP port (1-65535)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting("LOG_LEVEL", "INFO")
    internal_api_key: str = setting(
        "INTERNAL_API_KEY", expects="a shared secret of at least 16 characters"
    )
    db_pool_min: int = setting("DB_POOL_MIN", 1, "an integer >= 0")
    db_pool_max: int = setting("DB_POOL_MAX", 10, "an integer >= 1")
    db_statement_timeout_ms: int = setting("DB_STATEMENT_TIMEOUT_MS", 5000, "milliseconds > 0")
    db_command_timeout_s: float = setting("DB_COMMAND_TIMEOUT_S", 10.0, "seconds > 0")
    max_body_bytes: int = setting("MAX_BODY_BYTES", 1_048_576, "bytes > 0")
    shutdown_timeout_s: float = setting("SHUTDOWN_TIMEOUT_S", 20.0, "seconds >= 0")
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES",
        ("127.0.0.1", "::1"),
        "a comma-separated list of IP addresses or CIDR ranges",
    )
    cors_allowed_origins: tuple[str, ...] = setting(
        "CORS_ALLOWED_ORIGINS",
        (),
        "a comma-separated list of origins (https://app.example.com) allowed to call the API"
        " from a browser; empty allows none",
    )
    users_url: str = setting("USERS_URL", "http://users:8080", "the users service base URL")
    events_url: str = setting("EVENTS_URL", "http://events:8080", "the events service base URL")
    bookings_url: str = setting(
        "BOOKINGS_URL", "http://bookings:8080", "the bookings service base URL"
    )
    search_url: str = setting("SEARCH_URL", "http://search:8080", "the search service base URL")
    analytics_url: str = setting(
        "ANALYTICS_URL", "http://analytics:8080", "the analytics service base URL"
    )
    jwks_url: str = setting(
        "JWKS_URL", "", "the users service JWKS URL (default: USERS_URL/.well-known/jwks.json)"
    )

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or self.users_url.rstrip("/") + "/.well-known/jwks.json"

    @staticmethod
    def check_database_url(value: str) -> str | None:
        if not value.startswith(("postgresql://", "postgres://")):
            return "expected a DSN starting with postgresql://"
        return None

    @staticmethod
    def check_port(value: int) -> str | None:
        return None if 0 <= value <= 65535 else "expected a TCP port (1-65535)"

    @staticmethod
    def check_internal_api_key(value: str) -> str | None:
        return None if len(value) >= 16 else "expected at least 16 characters"

    @staticmethod
    def check_trusted_proxies(value: tuple[str, ...]) -> str | None:
        import ipaddress

        try:
            for entry in value:
                ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            return f"expected IP addresses or CIDR ranges ({exc})"
        return None

    @staticmethod
    def check_db_pool_max(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_db_statement_timeout_ms(value: int) -> str | None:
        return None if value > 0 else "expected milliseconds > 0"

    @staticmethod
    def check_max_body_bytes(value: int) -> str | None:
        return None if value > 0 else "expected bytes > 0"


@dataclass(frozen=True, kw_only=True)
class OutboxRelaySettings(CommonSettings):
    """Settings of a service that produces outbox messages and runs a relay."""

    outbox_relay_enabled: bool = setting(
        "OUTBOX_RELAY_ENABLED", True, "true or false: run the outbox relay in this replica"
    )
    outbox_poll_interval_s: float = setting(
        "OUTBOX_POLL_INTERVAL_S", 1.0, "seconds > 0 between outbox polls (NOTIFY wakes sooner)"
    )
    outbox_max_backoff_s: float = setting(
        "OUTBOX_MAX_BACKOFF_S", 60.0, "seconds > 0: the longest wait before retrying a consumer"
    )

    @staticmethod
    def check_outbox_poll_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_outbox_max_backoff_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"
