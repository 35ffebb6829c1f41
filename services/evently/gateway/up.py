"""`evently up`: the whole platform in one process, behind the local gateway.

Each service runs as its own aiohttp application on a private 127.0.0.1 port with its
own settings and pool, exactly as it would in its own pod; the gateway on the public
port forwards by the routing table, as the Ingress does. Without ``DATABASE_URL`` an
embedded PostgreSQL keeps its data under ``.evently/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evently.core import migrations
from evently.core.app import bind_socket, create_app, serve_apps
from evently.core.db import connections_needed
from evently.core.embedded import ensure_connections, start_embedded_postgres
from evently.core.logs import configure_logging
from evently.core.openapi import build_openapi
from evently.core.settings import load_settings
from evently.gateway.proxy import create_gateway
from evently.gateway.routing import MAX_PUBLIC_BODY_BYTES
from evently.services import SERVICE_NAMES, all_services

# Connections beyond the services' own: migrations, `evently migrate`, psql, admin tools.
ADMIN_CONNECTIONS = 10


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for local runs, generated once and kept in ``data_dir/secrets.json``."""
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    if "INTERNAL_API_KEY" not in stored:
        stored["INTERNAL_API_KEY"] = secrets.token_urlsafe(32)
        changed = True
    generators = {k: v for svc in all_services() for k, v in svc.dev_secrets.items()}
    for name, generate in generators.items():
        if name not in stored:
            stored[name] = generate()
            changed = True
    if changed:
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def merged_openapi() -> dict[str, Any]:
    """The public OpenAPI document the gateway serves: every service's public routes."""
    endpoints = [ep for svc in all_services() for ep in svc.api.endpoints if not ep.internal]
    return build_openapi(
        "Evently public API", endpoints, description="The public REST API behind the ingress."
    )


async def run_platform(
    host: str,
    port: int,
    data_dir: Path,
    demo: bool,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Start the database (if embedded), migrate, then serve every service and the gateway."""
    env = dict(os.environ if environ is None else environ)
    configure_logging(env.get("LOG_LEVEL", "INFO"))
    # The public port first: if it is taken, say so before starting anything else.
    gateway_socket = bind_socket(host, port)
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before serving
    embedded = not env.get("DATABASE_URL")
    if embedded:
        server, dsn = start_embedded_postgres(data_dir / "pgdata")
        env["DATABASE_URL"] = dsn
    for name, value in dev_secrets(data_dir).items():
        env.setdefault(name, value)
    services = all_services()
    await migrations.migrate_dsn(env["DATABASE_URL"], [(s.name, s.schema) for s in services])

    sockets = {name: bind_socket("127.0.0.1", 0) for name in SERVICE_NAMES}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    for name, url in urls.items():
        env[f"{name.upper()}_URL"] = url
    public_port = gateway_socket.getsockname()[1]
    env.setdefault("PUBLIC_BASE_URL", f"http://{_url_host(host)}:{public_port}")
    settings = {
        service.name: load_settings(
            service.settings_class,
            {**service.dev_settings, **env},
            host="127.0.0.1",
            port=sockets[service.name].getsockname()[1],
        )
        for service in services
    }
    if embedded:
        # Every service's pools full at once must fit: initdb's default of 100 does not.
        wanted = sum(connections_needed(s) for s in settings.values()) + ADMIN_CONNECTIONS
        ensure_connections(server, wanted)
    apps = [
        (create_app(service, settings[service.name]), sockets[service.name]) for service in services
    ]
    gateway = create_gateway(urls, merged_openapi(), max_body=MAX_PUBLIC_BODY_BYTES)
    apps.append((gateway, gateway_socket))

    def announce() -> None:
        base = f"http://{host}:{public_port}"
        lines = [
            f"Evently is up at {base}",
            f"  health:   {base}/healthz   ready: {base}/readyz",
            f"  API docs: {base}/openapi.json   metrics: {base}/metrics",
            "  database: "
            + (
                f"embedded PostgreSQL, data in {data_dir / 'pgdata'}"
                if embedded
                else "DATABASE_URL"
            ),
        ]
        if embedded:
            # The admin commands (evently users create-admin, evently migrate) need it.
            lines.append(f"  DATABASE_URL={env['DATABASE_URL']}")
        lines += [f"  {name:9} {url} (internal)" for name, url in urls.items()]
        print("\n".join(lines), flush=True)
        if demo:
            asyncio.get_running_loop().create_task(_load_demo(env, base))

    await serve_apps(apps, shutdown_timeout_s=10.0, on_started=announce)


def _url_host(host: str) -> str:
    """``host`` as a URL shows it: an unspecified address is reached on loopback."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def _load_demo(env: Mapping[str, str], base_url: str) -> None:
    from evently.demo import load_demo

    try:
        report = await load_demo(env, base_url)
    except Exception as exc:  # demo data is a convenience; never take the platform down
        print(f"demo data failed to load: {exc}", file=sys.stderr, flush=True)
        return
    print(report, flush=True)
