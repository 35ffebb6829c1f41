"""The `evently` command line: serve one service, run the platform, migrate, admin tasks."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from evently.core import event_loop
from evently.core.app import PortUnavailable
from evently.core.settings import SettingsError, load_settings
from evently.services import SERVICE_NAMES, all_services, load_service


def _serve(args: argparse.Namespace) -> int:
    from evently.core.app import bind_socket, create_app, serve_apps
    from evently.core.logs import configure_logging

    service = load_service(args.service)
    overrides = {"port": args.port} if args.port is not None else {}
    settings = load_settings(service.settings_class, **overrides)
    configure_logging(settings.log_level)
    app = create_app(service, settings)
    sock = bind_socket(settings.host, settings.port)

    def announce() -> None:
        port = sock.getsockname()[1]
        print(f"evently {service.name} serving on http://{settings.host}:{port}", flush=True)

    event_loop.run(
        serve_apps(
            [(app, sock)],
            settings.shutdown_timeout_s,
            on_started=announce,
            drain_s=settings.shutdown_drain_s,
        ),
        settings.event_loop,
    )
    return 0


def _up(args: argparse.Namespace) -> int:
    from evently.gateway.up import run_platform

    name = os.environ.get("EVENT_LOOP", "asyncio")
    if name not in event_loop.EVENT_LOOPS:
        raise SettingsError(
            [f"EVENT_LOOP={name!r} is invalid: expected one of {event_loop.EVENT_LOOPS}"]
        )
    event_loop.run(run_platform(args.host, args.port, Path(args.data_dir), args.demo), name)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from evently.core import migrations

    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        raise SettingsError(
            ["DATABASE_URL is required: expected a PostgreSQL DSN (postgresql://...)"]
        )
    names = [args.service] if args.service else list(SERVICE_NAMES)
    targets = [(s.name, s.schema) for s in map(load_service, names)]
    applied = asyncio.run(migrations.migrate_dsn(dsn, targets))
    for name, done in applied.items():
        sql = f", repeatable SQL ({len(done.sql_files)} file(s))" if done.sql_files else ""
        print(f"{name}: applied {len(done.migrations)} migration(s){sql}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evently", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service (what each Deployment runs)")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    serve.set_defaults(func=_serve)

    up = commands.add_parser("up", help="run every service behind the local gateway")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--data-dir", default=".evently", help="embedded database and dev secrets")
    up.add_argument("--demo", action="store_true", help="load demo venues, events and users")
    up.set_defaults(func=_up)

    migrate = commands.add_parser("migrate", help="apply pending migrations (DATABASE_URL)")
    migrate.add_argument("service", nargs="?", choices=SERVICE_NAMES)
    migrate.set_defaults(func=_migrate)

    for service in all_services():
        if service.cli is not None:
            service.cli(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, PortUnavailable) as exc:
        print(f"evently: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
