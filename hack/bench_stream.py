#!/usr/bin/env python3
"""Live availability benchmark: `make bench-stream` (BENCH_ARGS="--watchers 10000 ...").

What it does, all on this machine:

1. starts an embedded PostgreSQL, migrates every schema, and starts the users service
   and ``--processes`` bookings processes (``evently serve``), or with
   ``--via-gateway`` the whole platform in one ``evently up`` process behind its gateway;
   ``BOOKINGS_SSE_MAX_SUBSCRIBERS`` is raised to what each process must serve, and the
   open-file limit (RLIMIT_NOFILE) to its hard limit for every process started here;
2. creates one event (``event.changed`` posted to the bookings inbox) and registers one
   buyer through the users API;
3. opens ``--watchers`` availability streams (``GET /api/v1/events/{id}/availability/
   stream``, HTTP/1.1, spread over the bookings processes) from ``--clients`` client
   processes, each a raw non-blocking socket that de-chunks the body and reads only the
   ``id:`` line of each message (the inventory version);
4. makes ``--changes`` availability changes at a steady pace: one hold of one seat every
   ``--interval`` seconds, through the public API (the gateway with ``--via-gateway``);
5. measures, per watcher and change, the **delay from the commit to delivery** (below);
   reports p50/p95/p99/max, missed changes (must be 0), connections opened, and memory
   per watcher (RSS growth of the bookings process(es) while the streams opened,
   divided by the watchers); writes ``bench-results/stream-<config>.json``.

**When a change commits.** A hold's transaction commits before its ``201`` is sent,
so the driver takes the moment it *receives* the ``201`` as the commit time: the delay
is measured from there (it misses only the response's trip back over loopback, well
under a millisecond on an idle machine). The published state is matched to its hold by
its ``held`` count (one seat per hold, no expiry: the ``h``-th hold to commit made the
state with ``h`` seats held; two holds published together count from the later one's
commit). The bench also LISTENs to the ``bookings_availability`` channel itself, so the
delay splits into *publish* (commit to NOTIFY, which includes the publisher's
``BOOKINGS_PUBLISH_INTERVAL_S`` batching) and *fan-out* (NOTIFY to delivery). The same
percentiles from the moment the hold was *sent* are an upper bound (``from_request``).

**When a watcher got it, without the client's own lag.** Every watcher's socket has
``SO_TIMESTAMPNS`` on: the kernel stamps the bytes when they reach the watcher's socket
(the server's write, over loopback), and that stamp is the delivery time, whenever the
client process gets round to reading them. How much later it read them is reported
apart (``client.read_lag_ms``), with its event loop's lag and CPU share. All clocks are
``CLOCK_REALTIME`` (``time.time()``), the kernel's stamps included: one clock for every
process on the machine. Every published version must reach every watcher (``missed``).

Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bookings import (
    INTERNAL_KEY,
    ROOT,
    connect,
    event_message,
    free_port,
    register_buyers,
    start_outbox_sink,
    start_service,
    stop,
    wait_ready,
)

CHANNEL = "bookings_availability"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python names it from 3.14
OPEN_CONCURRENCY = 50  # streams being opened at once, per client process
CONNECT_TIMEOUT_S = 600.0


def percentiles(samples: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max of ``samples`` (milliseconds), rounded."""
    if not samples:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 1)}


def raise_open_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every process started)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- the client processes


class Watcher:
    """One availability stream on a raw non-blocking socket: de-chunks the body and
    records each message's id (the inventory version) with the moment the kernel
    received its bytes (``SO_TIMESTAMPNS``), and how much later this process read them."""

    def __init__(
        self,
        sock: socket.socket,
        arrivals: dict[int, list[float]],
        read_lag: list[float],
        opened: asyncio.Future[bool],
    ) -> None:
        self.sock = sock
        self.arrivals = arrivals
        self.read_lag = read_lag
        self.opened = opened
        self.raw = bytearray()
        self.body = bytearray()
        self.in_body = False
        self.chunk_left = -1  # -1: expecting a chunk-size line
        self.lost = False
        self.messages = 0

    def readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        read_at = time.time()
        if not data:
            self.close()
            return
        received_at = read_at
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                received_at = seconds + nanoseconds * 1e-9
        self.feed(data, received_at, read_at)

    def close(self) -> None:
        self.lost = self.opened.done() and self.opened.result()  # closed once streaming
        if not self.opened.done():
            self.opened.set_result(False)
        asyncio.get_running_loop().remove_reader(self.sock)
        self.sock.close()

    def feed(self, data: bytes, received_at: float, read_at: float) -> None:
        self.raw += data
        if not self.in_body:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.raw.startswith(b"HTTP/1.1 200"):
                if not self.opened.done():
                    self.opened.set_result(False)
                return
            del self.raw[: end + 4]
            self.in_body = True
        self._dechunk()
        while (end := self.body.find(b"\n\n")) >= 0:
            message = bytes(self.body[:end])
            del self.body[: end + 2]
            if message.startswith(b"id: "):
                version = int(message[4 : message.index(b"\n")])
                self.arrivals.setdefault(version, []).append(received_at)
                self.read_lag.append(read_at - received_at)
                self.messages += 1
                if not self.opened.done():
                    self.opened.set_result(True)

    def _dechunk(self) -> None:
        while self.raw:
            if self.chunk_left < 0:
                line_end = self.raw.find(b"\r\n")
                if line_end < 0:
                    return
                self.chunk_left = int(self.raw[:line_end], 16)
                del self.raw[: line_end + 2]
            take = min(self.chunk_left, len(self.raw))
            self.body += self.raw[:take]
            del self.raw[:take]
            self.chunk_left -= take
            if self.chunk_left == 0:
                if len(self.raw) < 2:
                    return  # wait for the chunk's CRLF
                del self.raw[:2]
                self.chunk_left = -1
            elif self.chunk_left > 0:
                return


async def loop_lag(samples: list[float], stop: asyncio.Event, tick_s: float = 0.005) -> None:
    """How late this event loop wakes a 5 ms sleeper: the client's own lag."""
    while not stop.is_set():
        t0 = time.monotonic()
        await asyncio.sleep(tick_s)
        samples.append(time.monotonic() - t0 - tick_s)


async def client_main(targets: list[str], path: str, count: int) -> None:
    """One client process: open ``count`` streams, report, wait for ``measure`` and
    ``stop`` on stdin, then print what arrived (JSON on stdout)."""
    raise_open_file_limit()
    loop = asyncio.get_running_loop()
    arrivals: dict[int, list[float]] = {}
    read_lag: list[float] = []
    watchers: list[Watcher] = []
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n".encode()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    failures: list[str] = []

    async def open_one(i: int) -> None:
        host, port = targets[i % len(targets)].rsplit(":", 1)
        async with gate:
            opened: asyncio.Future[bool] = loop.create_future()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            try:
                await loop.sock_connect(sock, (host, int(port)))
                await loop.sock_sendall(sock, request)
            except OSError as exc:
                failures.append(type(exc).__name__)
                sock.close()
                return
            watcher = Watcher(sock, arrivals, read_lag, opened)
            loop.add_reader(sock, watcher.readable)
            try:
                ok = await asyncio.wait_for(opened, 60)
            except TimeoutError:
                ok = False
            if not ok:
                failures.append(bytes(watcher.raw[:120]).decode(errors="replace") or "closed")
                if watcher.sock.fileno() != -1:
                    watcher.close()
                return
            watchers.append(watcher)

    await asyncio.gather(*(open_one(i) for i in range(count)))
    arrivals.clear()  # the initial states are not changes
    read_lag.clear()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"opened": len(watchers), "failed": failures[:5], "failures": len(failures)}))
    sys.stdout.flush()
    await reader.readline()  # "measure"
    lags: list[float] = []
    stopping = asyncio.Event()
    ticker = asyncio.create_task(loop_lag(lags, stopping))
    cpu0, wall0 = time.process_time(), time.monotonic()
    messages0 = sum(w.messages for w in watchers)
    await reader.readline()  # "stop"
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    messages = sum(w.messages for w in watchers) - messages0
    stopping.set()
    await ticker
    lost = sum(w.lost for w in watchers)
    for watcher in watchers:
        if watcher.sock.fileno() != -1:
            watcher.close()
    print(
        json.dumps(
            {
                "arrivals": {str(v): times for v, times in arrivals.items()},
                "lost": lost,
                "read_lag_ms": percentiles([x * 1000 for x in read_lag]),
                "messages": messages,
                "cpu_s": cpu,
                "cpu_share": cpu / max(wall, 1e-9),
                "loop_lag_ms": percentiles([x * 1000 for x in lags]),
            }
        )
    )
    sys.stdout.flush()


class ClientProcess:
    """A client process started by the driver, spoken to over its stdin and stdout."""

    def __init__(self, targets: list[str], path: str, count: int) -> None:
        self.count = count
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--client", ",".join(targets), "--client-path", path,
             "--client-count", str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    async def line(self, timeout_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        text = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout_s)
        if not text:
            raise SystemExit(f"a client process ended early (exit {self.process.poll()})")
        return json.loads(text)

    def tell(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()


# ---------------------------------------------------------------- the driver


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds used so far by ``pids``."""
    import psutil

    times = [psutil.Process(pid).cpu_times() for pid in pids]
    return sum(t.user for t in times), sum(t.system for t in times)


def rss_bytes(pids: list[int]) -> int:
    import psutil

    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


def spawn_up(env: dict[str, str], port: int, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "evently"), "up", "--port", str(port), "--data-dir",
         str(workdir / "up")],
        env={**os.environ, **env}, stdout=(workdir / "up.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


async def start_gateway(
    env: dict[str, str], workdir: Path
) -> tuple[subprocess.Popen[bytes], int, int, int]:
    """``evently up`` on a free port; returns it, the gateway's, bookings' and users' ports
    (the services' own, which ``evently up`` prints)."""
    port = free_port()
    log_path = workdir / "up.log"
    process = spawn_up(env, port, workdir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log_path.read_text()
        bookings = re.search(r"bookings\s+http://127\.0\.0\.1:(\d+)", text)
        users = re.search(r"users\s+http://127\.0\.0\.1:(\d+)", text)
        if bookings and users:
            await wait_ready(port, 60)
            return process, port, int(bookings.group(1)), int(users.group(1))
        if process.poll() is not None:
            break
        await asyncio.sleep(0.3)
    raise SystemExit(f"evently up did not start: {log_path.read_text()[-2000:]}")


async def hold(port: int, token: str, event_id: int) -> tuple[int, bytes]:
    conn = await connect("127.0.0.1", port)
    try:
        return await conn.request(
            b"POST /api/v1/bookings HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n".encode(),
            b'{"event_id":%d,"quantity":1}' % event_id,
        )
    finally:
        conn.transport.close()  # type: ignore[union-attr]


def configuration_name(args: argparse.Namespace) -> str:
    via = "gateway" if args.via_gateway else f"{args.processes}p"
    return f"{args.watchers}w-{via}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from evently.core import migrations
    from evently.core.embedded import start_embedded_postgres
    from evently.services import all_services
    from evently.users.keys import generate_signing_keys_json

    nofile = raise_open_file_limit()
    workdir = Path(tempfile.mkdtemp(prefix="evently-bench-stream-"))
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[ClientProcess] = []
    server = helper = listener = None
    try:
        server, dsn = start_embedded_postgres(workdir / "pgdata", keep_data=False)
        await migrations.migrate_dsn(dsn, [(s.name, s.schema) for s in all_services()])
        per_process = -(-args.watchers // args.processes)
        common = {
            "DATABASE_URL": dsn,
            "INTERNAL_API_KEY": INTERNAL_KEY,
            "LOG_LEVEL": "WARNING",
            "BOOKINGS_SSE_MAX_SUBSCRIBERS": str(per_process + 100),
            "BCRYPT_ROUNDS": "4",
            "REGISTER_ADDRESS_MAX_ATTEMPTS": "1000000",
            "LOGIN_ADDRESS_MAX_ATTEMPTS": "1000000",
        }
        if args.via_gateway:
            process, public_port, bookings_port, users_port = await start_gateway(common, workdir)
            processes.append(process)
            pids = [process.pid]  # one process: every service and the gateway
            # The streams go through the gateway; the set-up and the holds (the changes,
            # not what is measured) go to the services' own ports, as in the direct runs.
            stream_ports, hold_port, bookings_ports = [public_port], bookings_port, [bookings_port]
        else:
            helper, helper_port, _ = await start_outbox_sink()
            sink = f"http://127.0.0.1:{helper_port}"
            users_port = free_port()
            env = {**common, "SEARCH_URL": sink, "EVENTS_URL": sink, "ANALYTICS_URL": sink,
                   "USERS_URL": f"http://127.0.0.1:{users_port}"}  # fmt: skip
            users_env = {**env, "JWT_SIGNING_KEYS": generate_signing_keys_json()}
            processes.append(start_service("users", users_env, users_port, workdir / "users.log"))
            bookings_env = {**env, "TICKET_SIGNING_KEYS": generate_signing_keys_json()}
            bookings_ports = [free_port() for _ in range(args.processes)]
            for i, port in enumerate(bookings_ports):
                log_path = workdir / f"bookings-{i}.log"
                processes.append(start_service("bookings", bookings_env, port, log_path))
            pids = [p.pid for p in processes[1:]]
            await asyncio.gather(*(wait_ready(p, 60) for p in [users_port, *bookings_ports]))
            stream_ports, hold_port = bookings_ports, bookings_ports[0]
        # Enough seats and a per-user limit for every change; the holds never expire here.
        event_id = 1
        message = event_message(event_id, args.changes + 10, args.changes + 10)
        conn = await connect("127.0.0.1", bookings_ports[0])
        status, body = await conn.request(
            b"POST /internal/inbox HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            + f"X-Internal-Key: {INTERNAL_KEY}\r\n".encode(),
            json.dumps(message).encode(),
        )
        conn.transport.close()  # type: ignore[union-attr]
        if status != 200:
            raise SystemExit(f"could not create the event: {status} {body[:300]!r}")
        (token,) = await register_buyers(users_port, 1)
        # The bench's own LISTEN: when each state was NOTIFYed (the publish commit).
        notified: dict[int, tuple[float, int]] = {}
        listener = await asyncpg.connect(dsn)

        def on_notify(_c: object, _p: int, _ch: str, payload: str) -> None:
            state = json.loads(payload)
            if state["event_id"] == event_id:
                notified[int(state["version"])] = (time.time(), int(state["held"]))

        await listener.add_listener(CHANNEL, on_notify)
        await asyncio.sleep(2.0)  # the processes settle (relay, publisher, JIT caches)
        rss_before = rss_bytes(pids)

        # Open the streams.
        targets = [f"127.0.0.1:{port}" for port in stream_ports]
        path = f"/api/v1/events/{event_id}/availability/stream"
        shares = [args.watchers // args.clients + (i < args.watchers % args.clients)
                  for i in range(args.clients)]  # fmt: skip
        t_open = time.monotonic()
        clients = [ClientProcess(targets, path, n) for n in shares if n > 0]
        reports = [await c.line(CONNECT_TIMEOUT_S) for c in clients]
        open_s = time.monotonic() - t_open
        opened = sum(r["opened"] for r in reports)
        await asyncio.sleep(2.0)
        rss_open = rss_bytes(pids)
        print(f"{opened} of {args.watchers} streams open in {open_s:.1f} s", flush=True)

        # The changes, at a steady pace.
        for c in clients:
            c.tell("measure")
        await asyncio.sleep(0.5)
        server_cpu = cpu_seconds(pids)
        holds: list[dict[str, float]] = []
        errors: list[str] = []

        async def one_hold() -> None:
            sent = time.time()
            status, body = await hold(hold_port, token, event_id)
            if status != 201:
                errors.append(f"hold {status} {body[:200]!r}")
            holds.append({"sent": sent, "committed": time.time()})

        # On schedule even if the service is slow: each hold is its own request.
        start = time.monotonic()
        pending = []
        for k in range(args.changes):
            await asyncio.sleep(max(0.0, start + k * args.interval - time.monotonic()))
            pending.append(asyncio.create_task(one_hold()))
        await asyncio.wait(pending, timeout=60)
        await asyncio.sleep(args.settle)
        server_cpu = tuple(b - a for a, b in zip(server_cpu, cpu_seconds(pids), strict=True))
        for c in clients:
            c.tell("stop")
        results = [await c.line(120) for c in clients]
        rss_after = rss_bytes(pids)
        return summarise(
            args,
            {"nofile": nofile, "holds": holds, "errors": errors, "notified": notified,
             "results": results, "reports": reports, "opened": opened, "open_s": open_s,
             "clients": len(clients), "rss_before": rss_before, "rss_open": rss_open,
             "rss_after": rss_after, "server_cpu": server_cpu},
        )  # fmt: skip
    finally:
        for client in clients:
            if client.process.poll() is None:
                client.process.kill()
        if listener is not None:
            await listener.close()
        for process in processes:
            stop(process)
        if helper is not None:
            await helper.cleanup()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)


def summarise(args: argparse.Namespace, run: dict[str, Any]) -> dict[str, Any]:
    """The figures from one run's raw timings."""
    notified, results, opened = run["notified"], run["results"], run["opened"]
    # The h-th hold to commit (responses in commit order) made the state with h held.
    holds = sorted(run["holds"], key=lambda h: h["committed"])
    first_sent = min((h["sent"] for h in holds), default=0.0)
    # Every version published once the holds began must reach every watcher; the
    # delay is measured for those whose held count names the hold that made them.
    changes = {}
    for version, (at, held) in sorted(notified.items()):
        if at >= first_sent:
            changes[version] = {"hold": held - 1 if 1 <= held <= len(holds) else None,
                                "notified": at}  # fmt: skip
    delays, from_request, publish, fanout = [], [], [], []
    missed = 0
    arrivals: dict[int, list[float]] = {}
    for result in results:
        for version, times in result["arrivals"].items():
            arrivals.setdefault(int(version), []).extend(times)
    for version, change in changes.items():
        got = arrivals.get(version, [])
        missed += opened - len(got)
        if change["hold"] is None:
            continue
        committed = holds[change["hold"]]["committed"]
        sent = holds[change["hold"]]["sent"]
        publish.append((change["notified"] - committed) * 1000)
        for t in got:
            delays.append((t - committed) * 1000)
            from_request.append((t - sent) * 1000)
            fanout.append((t - change["notified"]) * 1000)
    messages = sum(r["messages"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    watchers = max(1, opened)
    delivery = percentiles(delays)
    return {
        "benchmark": "live availability",
        "configuration": configuration_name(args),
        "command": "make bench-stream BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'",
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_1m": round(os.getloadavg()[0], 2),
            "open_file_limit": run["nofile"],
        },
        "watchers": args.watchers,
        "bookings_processes": 1 if args.via_gateway else args.processes,
        "via_gateway": args.via_gateway,
        "client_processes": run["clients"],
        "connections_opened": opened,
        "connection_failures": sum(r["failures"] for r in run["reports"]),
        "open_s": round(run["open_s"], 1),
        "changes_made": len(run["holds"]),
        "changes_published": len(changes),
        "hold_errors": run["errors"][:5],
        "interval_s": args.interval,
        "delivery_p99_ms": delivery["p99"],
        "delivery_ms": delivery,  # from the hold's commit (its 201 received) to delivery
        "delivery_from_request_ms": percentiles(from_request),
        "publish_ms": percentiles(publish),  # commit -> NOTIFY received by the bench
        "fanout_ms": percentiles(fanout),  # NOTIFY -> delivered
        "deliveries": len(delays),
        # CPU of the service process(es) over the changes (holds, publishing, fan-out,
        # heartbeats): what a change costs, whatever share of the CPU the machine gave.
        "server_cpu_ms_per_change": round(sum(run["server_cpu"]) * 1000 / max(1, len(changes)), 1),
        "server_cpu_us_per_delivery": round(sum(run["server_cpu"]) * 1e6 / max(1, len(delays)), 1),
        # The same, split: user (Python) and system (the kernel: sends, epoll).
        "server_cpu_us_per_delivery_user_system": [
            round(seconds * 1e6 / max(1, len(delays)), 1) for seconds in run["server_cpu"]
        ],
        "missed_changes": missed,
        "streams_lost": sum(r["lost"] for r in results),
        "memory": {
            "rss_before_mb": round(run["rss_before"] / 2**20, 1),
            "rss_open_mb": round(run["rss_open"] / 2**20, 1),
            "rss_after_mb": round(run["rss_after"] / 2**20, 1),
            "kib_per_watcher": round((run["rss_open"] - run["rss_before"]) / 1024 / watchers, 1),
            "kib_per_watcher_after_changes": round(
                (run["rss_after"] - run["rss_before"]) / 1024 / watchers, 1
            ),
        },
        "client": {
            # From the kernel's receive timestamp to this process reading the bytes:
            # the client's own lag, excluded from every delivery figure above.
            "read_lag_ms": _merge_lag(results, "read_lag_ms"),
            "loop_lag_ms": _merge_lag(results, "loop_lag_ms"),
            # Whole-process CPU (the lag ticker included) per message, and the busiest
            # client's CPU share over the measurement: well below 1, it kept up.
            "cpu_us_per_message": round(cpu * 1e6 / max(1, messages), 1),
            "cpu_share_max": round(max(r["cpu_share"] for r in results), 3),
            "messages": messages,
        },
    }


def _merge_lag(results: list[dict[str, Any]], name: str) -> dict[str, float | None]:
    """The worst client's lag percentiles."""
    keys = ("p50", "p95", "p99", "max")
    return {k: max((r[name][k] or 0) for r in results) for k in keys}


def print_table(result: dict[str, Any]) -> None:
    d, f, p = result["delivery_ms"], result["fanout_ms"], result["publish_ms"]
    m, c = result["memory"], result["client"]
    rows = [
        ("configuration", result["configuration"]),
        ("connections opened", f"{result['connections_opened']} of {result['watchers']}"
         f" ({result['connection_failures']} failed) in {result['open_s']} s"),
        ("changes made / published", f"{result['changes_made']} / {result['changes_published']}"
         f" (one every {result['interval_s']} s)"),
        ("delivery from commit p50/p95/p99/max", _ms(d)),
        ("  publish (commit -> NOTIFY)", _ms(p)),
        ("  fan-out (NOTIFY -> delivered)", _ms(f)),
        ("missed changes", str(result["missed_changes"])),
        ("service CPU per change / per delivery",
         f"{result['server_cpu_ms_per_change']} ms / {result['server_cpu_us_per_delivery']} us"),
        ("memory per watcher", f"{m['kib_per_watcher']} KiB (RSS {m['rss_before_mb']} -> "
         f"{m['rss_open_mb']} MiB; {m['rss_after_mb']} MiB after the changes)"),
        ("client read lag p50/p99/max (excluded)", _ms(c["read_lag_ms"])),
        ("client CPU per message / busiest share",
         f"{c['cpu_us_per_message']} us / {c['cpu_share_max']}"),
        ("load average (1 min)", str(result["machine"]["load_average_1m"])),
    ]  # fmt: skip
    for name, value in rows:
        print(f"{name:40} {value}")


def _ms(p: dict[str, float | None]) -> str:
    return " / ".join("-" if p[k] is None else f"{p[k]:.0f}" for k in ("p50", "p95", "p99", "max"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1,
                        help="bookings processes, the watchers spread evenly")  # fmt: skip
    parser.add_argument("--via-gateway", action="store_true",
                        help="one `evently up` process, streams through its gateway")  # fmt: skip
    parser.add_argument("--changes", type=int, default=20, help="holds made, one seat each")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between changes")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to wait for deliveries after the last change")  # fmt: skip
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--output", help="default: bench-results/stream-<configuration>.json")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--client-path", help=argparse.SUPPRESS)
    parser.add_argument("--client-count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_main(args.client.split(","), args.client_path, args.client_count))
        return 0
    if args.watchers < 1 or args.changes < 1 or args.interval <= 0 or args.clients < 1:
        parser.error("--watchers, --changes, --interval and --clients must be positive")
    if args.via_gateway and args.processes != 1:
        parser.error("--via-gateway runs one `evently up` process")
    result = asyncio.run(run(args))
    output = Path(args.output or ROOT / "bench-results" / f"stream-{configuration_name(args)}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"results: {output}")
    if result["missed_changes"] or result["connections_opened"] < args.watchers:
        print("FAIL: a watcher missed a change, or not every stream opened", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
