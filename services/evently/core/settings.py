"""Typed settings read from the environment, in one place, on pydantic-settings.

Each service declares a settings class whose fields carry the environment variable
they come from (``setting("PORT", 8080, "a TCP port")``) and, where a value needs more
than its type, a ``check_<field>`` rule. ``load_settings`` reads every variable (lists
are comma-separated), lets pydantic convert and validate them and, if anything is
missing or malformed, raises one ``SettingsError`` that names each variable and what it
expects.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from aiohttp import web
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

T = TypeVar("T")
_REQUIRED: Any = object()


class SettingsError(Exception):
    """Raised when one or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


def setting(env: str, default: Any = _REQUIRED, expects: str = "") -> Any:
    """Declare a settings field read from the environment variable ``env``; ``expects``
    says, in error messages, what a valid value looks like."""
    if default is _REQUIRED:
        return Field(validation_alias=env, description=expects or None)
    return Field(default=default, validation_alias=env, description=expects or None)


class Settings(BaseSettings):
    """Base of every settings class: frozen, and filled only by ``load_settings``."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the environment it is given (the process's, or a test's).
        return (init_settings,)

    @field_validator("*")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        """A field's ``check_<field>`` rule: a message when the value is not acceptable."""
        rule = getattr(cls, f"check_{info.field_name}", None)
        problem = rule(value) if rule is not None else None
        if problem:
            raise ValueError(problem)
        return value


class _Environment(EnvSettingsSource):
    """Variables from ``environ``. A list is comma-separated; an empty value of an optional
    field means "not set", of a required field "missing"."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return dict(self._environ)

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        return [item.strip() for item in str(value).split(",") if item.strip()]

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if value == "" and (field.is_required() or _optional(field.annotation)):
            return None
        return super().prepare_field_value(field_name, field, value, value_is_complex)


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


def _describe(hint: Any) -> str:
    """What a value of type ``hint`` looks like, for a field without ``expects``."""
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
    values = _Environment(cls, environ)()  # type: ignore[arg-type]
    for name in overrides:
        values.pop(_variable(cls.model_fields[name], name), None)  # type: ignore[attr-defined]
    try:
        return cls(**values, **overrides)
    except ValidationError as exc:
        raise SettingsError(_problems(cls, exc, environ, overrides)) from None


def _variable(field: FieldInfo, name: str) -> str:
    return field.validation_alias if isinstance(field.validation_alias, str) else name


def _problems(
    cls: type[Any], exc: ValidationError, environ: Mapping[str, str], overrides: dict[str, Any]
) -> list[str]:
    """One line per failed field, naming its variable and what it expects."""
    by_variable = {_variable(f, n): (n, f) for n, f in cls.model_fields.items()}
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        key = str(error["loc"][0]) if error["loc"] else ""
        name, field = by_variable.get(key) or (key, cls.model_fields.get(key))
        if field is None:
            problems.append(error["msg"])
            continue
        env = _variable(field, name)
        expects = field.description or _describe(field.annotation)
        raw = overrides.get(name, environ.get(env))
        if error["type"] == "missing":
            problems.append(f"{env} is required: expected {expects}")
        elif error["type"] == "value_error":
            problems.append(f"{env}={raw!r} is invalid: {error['ctx']['error']}")
        else:
            problems.append(f"{env}={raw!r} is invalid: expected {expects}")
    return problems


class CommonSettings(Settings):
    """Settings every service shares."""

    database_url: str = setting("DATABASE_URL", expects="a PostgreSQL DSN (postgresql://...)")
    host: str = setting("HOST", "0.0.0.0", "an address to bind")
    port: int = setting("PORT", 8080, "a TCP port (1-65535)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting("LOG_LEVEL", "INFO")
    # core/event_loop.py: asyncio's own loop, or uvloop (measured no cheaper: docs/benchmarks.md).
    event_loop: Literal["asyncio", "uvloop"] = setting("EVENT_LOOP", "asyncio")
    internal_api_key: str = setting(
        "INTERNAL_API_KEY", expects="a shared secret of at least 16 characters"
    )
    db_pool_min: int = setting("DB_POOL_MIN", 1, "an integer >= 0")
    db_pool_max: int = setting("DB_POOL_MAX", 10, "an integer >= 1")
    # Outbox deliveries (POST /internal/inbox) get connections of their own, so requests
    # that fill the pool cannot starve them (docs/outbox.md, "The inbox's connections").
    db_inbox_pool_max: int = setting(
        "DB_INBOX_POOL_MAX",
        2,
        "an integer >= 0: connections reserved for applying outbox messages (0: they share "
        "the request pool)",
    )
    # An inbox starts no message after this long and answers with what it applied, well
    # within the relay's 10 s timeout (docs/outbox.md, "The inbox's connections").
    inbox_batch_budget_s: float = setting(
        "INBOX_BATCH_BUDGET_S",
        5.0,
        "seconds > 0 an inbox spends on one delivered batch before answering",
    )
    db_statement_timeout_ms: int = setting("DB_STATEMENT_TIMEOUT_MS", 5000, "milliseconds > 0")
    db_command_timeout_s: float = setting("DB_COMMAND_TIMEOUT_S", 10.0, "seconds > 0")
    db_pool_close_timeout_s: float = setting(
        "DB_POOL_CLOSE_TIMEOUT_S",
        3.0,
        "seconds > 0 to close the pool gracefully at shutdown before its connections are cut",
    )
    max_body_bytes: int = setting("MAX_BODY_BYTES", 1_048_576, "bytes > 0")
    shutdown_timeout_s: float = setting("SHUTDOWN_TIMEOUT_S", 20.0, "seconds >= 0")
    # Seconds to keep serving after SIGTERM, closing each connection after its response
    # (0 locally; the chart sets it: keep-alive clients must not lose a request).
    shutdown_drain_s: float = setting("SHUTDOWN_DRAIN_S", 0.0, "seconds >= 0")
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
    notifications_url: str = setting(
        "NOTIFICATIONS_URL", "http://notifications:8080", "the notifications service base URL"
    )
    waiting_room_url: str = setting(
        "WAITING_ROOM_URL", "http://waiting-room:8080", "the waiting room service base URL"
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
    def check_inbox_batch_budget_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_db_inbox_pool_max(value: int) -> str | None:
        return None if value >= 0 else "expected an integer >= 0"

    @staticmethod
    def check_db_statement_timeout_ms(value: int) -> str | None:
        return None if value > 0 else "expected milliseconds > 0"

    @staticmethod
    def check_db_pool_close_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_max_body_bytes(value: int) -> str | None:
        return None if value > 0 else "expected bytes > 0"


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
    # An inbox takes at most 1,000 messages a batch (core/inbox.py).
    outbox_batch_size: int = setting(
        "OUTBOX_BATCH_SIZE", 200, "messages per delivery to one consumer, 1-1000"
    )

    @staticmethod
    def check_outbox_poll_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_outbox_max_backoff_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_outbox_batch_size(value: int) -> str | None:
        return None if 1 <= value <= 1000 else "expected 1-1000 messages"


# Where an application keeps its settings (``create_app`` sets it).
SETTINGS: web.AppKey[Any] = web.AppKey("settings", object)
