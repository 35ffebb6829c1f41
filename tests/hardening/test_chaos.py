"""Chaos under load: the database restarts and a bookings process is killed mid-sale.

Real processes (`evently serve users`, `evently serve bookings`) on a PostgreSQL of the
test's own. Buyers register, then hold and confirm one seat at a time, retrying with
the same Idempotency-Key after a 503 or a dropped connection. Meanwhile the database
crashes (``pg_ctl stop -m immediate``) and comes back, and the bookings process gets
``kill -9`` and is started again. What must hold:

- every acknowledged (200) confirmation is a confirmed booking in the database;
- sold + held never exceeds capacity;
- while the database is down, every answer is a 503 (never a 500, never a success);
- the platform answers successfully again within 60 s of the database's return.

The measured recovery time and counts are written to ``bench-results/chaos.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from evently.core import migrations
from evently.services import all_services
from evently.users.keys import generate_signing_keys_json
from tests.bookings.conftest import event_payload, iso
from tests.conftest import INTERNAL_API_KEY
from tests.support.platform import free_port
from tests.support.restartable_postgres import RestartablePostgres

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = 300
BUYERS = 30
RECOVERY_DEADLINE_S = 60.0
LOAD_DEADLINE_S = 150.0
REPORT = ROOT / "bench-results" / "chaos.json"


@dataclass
class Service:
    """One `evently serve` process, which can be killed and started again on its port."""

    name: str
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evently", "serve", self.name, "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    async def wait_ready(self, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log_tail()
                try:
                    async with http.get(self.url + "/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} never became ready:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""


@dataclass
class Observations:
    """Every answer the buyers got, with when, and what was acknowledged."""

    answers: list[tuple[float, int, str]] = field(default_factory=list)
    confirmed: set[int] = field(default_factory=set)
    dropped: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, status: int, code: str = "") -> None:
        self.answers.append((time.monotonic(), status, code))
        self.changed.set()

    async def wait_until_confirmed(self, count: int, load: asyncio.Future) -> None:
        """Until ``count`` confirmations are acknowledged (or the load has ended)."""
        while len(self.confirmed) < count and not load.done():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 30)


async def buyer_loop(
    http: aiohttp.ClientSession, bookings_url: str, token: str, seen: Observations, stop: float
) -> None:
    """Hold one seat, confirm it, repeat; retry a 503 or a lost connection with the same key."""
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < stop:
        key = str(uuid.uuid4())
        booking_id = None
        while booking_id is None and time.monotonic() < stop:
            try:
                async with http.post(
                    bookings_url + "/api/v1/bookings",
                    json={"event_id": 1, "quantity": 1},
                    headers={**headers, "Idempotency-Key": key},
                ) as response:
                    body = await response.json(content_type=None)
                    seen.record(response.status, body.get("code", ""))
                    if response.status == 201:
                        booking_id = body["id"]
                    elif response.status == 409 and body.get("code") in (
                        "sold_out",
                        "per_user_limit_exceeded",
                    ):
                        return
                    elif response.status != 503:
                        raise AssertionError(f"hold answered {response.status}: {body}")
            except (aiohttp.ClientError, TimeoutError):
                seen.dropped += 1
            if booking_id is None:
                await asyncio.sleep(0.2)
        while booking_id is not None and time.monotonic() < stop:
            try:
                async with http.post(
                    f"{bookings_url}/api/v1/bookings/{booking_id}/confirm", headers=headers
                ) as response:
                    body = await response.json(content_type=None)
                    seen.record(response.status, body.get("code", ""))
                    if response.status == 200:
                        seen.confirmed.add(booking_id)
                        break
                    if response.status != 503:
                        raise AssertionError(f"confirm answered {response.status}: {body}")
            except (aiohttp.ClientError, TimeoutError):
                seen.dropped += 1
            await asyncio.sleep(0.2)


async def register_buyers(users_url: str, count: int) -> list[str]:
    tokens = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            async with http.post(
                users_url + "/api/v1/auth/register",
                json={"email": f"chaos{i}@example.com", "password": "correct-Horse-battery"},
            ) as response:
                assert response.status == 201, await response.text()
                tokens.append((await response.json())["access_token"])
    return tokens


async def publish_event(bookings_url: str) -> None:
    message = {
        "id": 1,
        "source": "events",
        "topic": "event.changed",
        "key": "1",
        "version": 1,
        "payload": event_payload(1, capacity=CAPACITY, max_per_user=CAPACITY),
        "created_at": iso(datetime.now(UTC)),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            bookings_url + "/internal/inbox",
            json={"source": "events", "messages": [message]},
            headers={"X-Internal-Key": INTERNAL_API_KEY},
        ) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.mark.timeout(420)
async def test_no_acknowledged_booking_is_lost_and_nothing_oversells_through_chaos(tmp_path):
    postgres = RestartablePostgres(tmp_path / "pg")
    services: list[Service] = []
    try:
        await migrations.migrate_dsn(postgres.dsn, [(s.name, s.schema) for s in all_services()])
        common = {
            "DATABASE_URL": postgres.dsn,
            "INTERNAL_API_KEY": INTERNAL_API_KEY,
            "LOG_LEVEL": "WARNING",
            "OUTBOX_RELAY_ENABLED": "false",
            "DB_STATEMENT_TIMEOUT_MS": "3000",
            "DB_COMMAND_TIMEOUT_S": "3",
        }
        users = Service(
            "users",
            {
                **common,
                "JWT_SIGNING_KEYS": generate_signing_keys_json(),
                "BCRYPT_ROUNDS": "4",
                "REGISTER_ADDRESS_MAX_ATTEMPTS": "1000",
            },
            free_port(),
            tmp_path / "users.log",
        )
        users.start()
        services.append(users)
        await users.wait_ready()
        bookings = Service(
            "bookings",
            {
                **common,
                "USERS_URL": users.url,
                "BOOKINGS_EXPIRY_INTERVAL_S": "0.5",
                "TICKET_SIGNING_KEYS": generate_signing_keys_json(),
            },
            free_port(),
            tmp_path / "bookings.log",
        )
        bookings.start()
        services.append(bookings)
        await bookings.wait_ready()
        await publish_event(bookings.url)
        tokens = await register_buyers(users.url, BUYERS)

        seen = Observations()
        stop_at = time.monotonic() + LOAD_DEADLINE_S
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            load = asyncio.gather(
                *(buyer_loop(http, bookings.url, token, seen, stop_at) for token in tokens)
            )
            load_task = asyncio.ensure_future(load)
            await seen.wait_until_confirmed(20, load_task)
            # 1. The database crashes and stays down for a few seconds under load.
            await asyncio.to_thread(postgres.crash)
            down_from = time.monotonic()
            await asyncio.sleep(4)
            down_until = time.monotonic()
            await asyncio.to_thread(postgres.start)
            back_at = time.monotonic()
            while not any(t > back_at and s < 300 for t, s, _ in list(seen.answers)):
                assert time.monotonic() - back_at < RECOVERY_DEADLINE_S, "no recovery in 60 s"
                await asyncio.sleep(0.05)
            recovery_s = min(t for t, s, _ in seen.answers if t > back_at and s < 300) - back_at
            # 2. The bookings process is killed mid-sale and started again.
            await seen.wait_until_confirmed(len(seen.confirmed) + 10, load_task)
            assert not load_task.done(), "the sale ended before the kill"
            bookings.kill()
            await asyncio.sleep(1)
            bookings.start()
            await bookings.wait_ready()
            await load_task

        # While the database was down (after in-flight requests drained), only 503s.
        settle_s = 1.0
        during = [(s, c) for t, s, c in seen.answers if down_from + settle_s < t < down_until]
        assert during, "no request was answered while the database was down"
        assert {s for s, _ in during} == {503}, Counter(during)
        assert not [a for a in seen.answers if a[1] >= 500 and a[1] != 503], "a 5xx other than 503"

        conn = await asyncpg.connect(postgres.dsn)
        try:
            rows = await conn.fetch(
                "SELECT id, status, quantity FROM bookings.bookings WHERE event_id = 1"
            )
            inventory = await conn.fetchrow(
                "SELECT capacity, reserved FROM bookings.inventory WHERE event_id = 1"
            )
        finally:
            await conn.close()
        status_of = {row["id"]: row["status"] for row in rows}
        lost = [b for b in seen.confirmed if status_of.get(b) != "confirmed"]
        sold = sum(r["quantity"] for r in rows if r["status"] == "confirmed")
        held = sum(r["quantity"] for r in rows if r["status"] == "held")
        report = {
            "acknowledged_confirmations": len(seen.confirmed),
            "lost_acknowledged_bookings": len(lost),
            "sold": sold,
            "held": held,
            "capacity": CAPACITY,
            "oversell": max(0, sold + held - CAPACITY),
            "answers": dict(Counter(str(s) for _, s, _ in seen.answers)),
            "answers_while_database_down": dict(Counter(str(s) for s, _ in during)),
            "dropped_connections": seen.dropped,
            "database_down_s": round(down_until - down_from, 2),
            "recovery_after_database_back_s": round(recovery_s, 3),
        }
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=2) + "\n")
        print("chaos:", json.dumps(report))
        assert lost == []
        assert sold + held <= CAPACITY
        assert inventory["reserved"] == sold + held <= inventory["capacity"]
        assert recovery_s < RECOVERY_DEADLINE_S
        assert len(seen.confirmed) >= 30, report
    finally:
        for service in services:
            service.stop()
        postgres.close()
