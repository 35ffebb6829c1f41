"""The application factory every service goes through."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from evently.core import parser_errors
from evently.core.api import Api
from evently.core.auth import authenticator_context
from evently.core.clients import http_session_context
from evently.core.db import pool_context
from evently.core.disconnects import disconnect_watch_context
from evently.core.health import (
    MIGRATION_TARGET,
    OPENAPI,
    READINESS_CHECKS,
    SHUTTING_DOWN,
    database_reachable,
    migrations_applied,
    ops_api,
)
from evently.core.middleware import (
    CORS,
    DATABASE_BACKED,
    MIDDLEWARES,
    RESPONSE_HEADERS,
    SERVICE_NAME,
)
from evently.core.openapi import build_openapi
from evently.core.response_headers import Cors
from evently.core.settings import SETTINGS, CommonSettings

__all__ = ["SETTINGS", "ServiceDefinition", "bind_socket", "create_app", "serve_apps"]
Setup = Callable[[web.Application, Any], None]


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service: its name, schema, settings, routes and extra wiring."""

    name: str
    schema: str
    settings_class: type[CommonSettings]
    api: Api
    description: str
    setup: Setup | None = None
    # Adds this service's subcommands to `evently` (receives argparse subparsers).
    cli: Callable[[Any], None] | None = field(default=None, compare=False)
    # Development secrets `evently up` generates once (env var name -> generator).
    dev_secrets: dict[str, Callable[[], str]] = field(default_factory=dict, compare=False)
    # Settings `evently up` gives this service unless the environment sets them.
    dev_settings: dict[str, str] = field(default_factory=dict, compare=False)
    # Extra asyncpg pool options (e.g. ``reset``) for this service's pool.
    pool_options: dict[str, Any] = field(default_factory=dict, compare=False)

    def openapi(self) -> dict[str, Any]:
        return build_openapi(
            f"Evently {self.name} service",
            [*self.api.endpoints, *ops_api.endpoints],
            description=self.description,
        )


def create_app(definition: ServiceDefinition, settings: CommonSettings) -> web.Application:
    """Build one service's application: middlewares, pool, ops routes, its own routes."""
    parser_errors.install()
    cors = Cors(settings.cors_allowed_origins)
    app = web.Application(
        middlewares=MIDDLEWARES,
        client_max_size=settings.max_body_bytes,
        handler_args={"max_field_size": 16384},
    )
    app[CORS] = app[RESPONSE_HEADERS] = cors
    app[DATABASE_BACKED] = True
    app[SERVICE_NAME] = definition.name
    app[SETTINGS] = settings
    app[SHUTTING_DOWN] = asyncio.Event()
    app[MIGRATION_TARGET] = (definition.name, definition.schema)
    app[READINESS_CHECKS] = [database_reachable, migrations_applied]
    app[OPENAPI] = definition.openapi()
    app.cleanup_ctx.append(
        pool_context(settings, f"evently-{definition.name}", **definition.pool_options)
    )
    app.cleanup_ctx.append(http_session_context)
    app.cleanup_ctx.append(disconnect_watch_context)
    app.cleanup_ctx.append(authenticator_context(settings.effective_jwks_url))
    app.on_shutdown.append(_mark_shutting_down)
    ops_api.register(app)
    definition.api.register(app)
    if definition.setup is not None:
        definition.setup(app, settings)
    return app


async def _mark_shutting_down(app: web.Application) -> None:
    app[SHUTTING_DOWN].set()


class PortUnavailable(RuntimeError):
    """The address to listen on is taken (or not ours to bind)."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        self.host, self.port = host, port
        why = "is already in use" if cause.errno == errno.EADDRINUSE else f"failed: {cause}"
        super().__init__(
            f"cannot listen on {host}:{port}: the port {why}. "
            "Stop what uses it, or pick another port (evently up --port N, make run PORT=N)."
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(host, port, exc) from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _drain(apps: list[web.Application], drain_s: float) -> None:
    """Keep serving ``drain_s`` seconds with readiness down and connections closing after
    each response, so clients still holding a keep-alive connection to this process (opened
    before its endpoints were removed) get their answer and reconnect elsewhere."""
    if drain_s <= 0:
        return
    for app in apps:
        if SHUTTING_DOWN in app:
            app[SHUTTING_DOWN].set()
    await asyncio.sleep(drain_s)


async def serve_apps(
    apps: list[tuple[web.Application, socket.socket]],
    shutdown_timeout_s: float,
    on_started: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    drain_s: float = 0.0,
) -> None:
    """Serve each app on its socket until ``stop`` is set (SIGTERM/SIGINT by default).

    On stop, each app drains for ``drain_s`` (still serving, /readyz 503, every response
    closing its connection), then listeners close, in-flight requests get
    ``shutdown_timeout_s`` to finish, and each app's cleanup contexts (background tasks,
    pools) run.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runners: list[web.AppRunner] = []
    try:
        for app, sock in apps:
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s)
            await runner.setup()
            runners.append(runner)
            await web.SockSite(runner, sock).start()
        if on_started is not None:
            on_started()
        await stop.wait()
        await _drain([app for app, _ in apps], drain_s)
    finally:
        # The gateway (last) stops first, so no new requests reach the services.
        for runner in reversed(runners):
            await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
