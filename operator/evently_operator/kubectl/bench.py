"""``kubectl evently bench``: a bounded flash sale against an installed platform.

Through the public API at ``--url`` only (the gateway or the Ingress), with an admin
access token:

1. creates a throwaway event (published, on sale now, ``--seats`` seats, one per buyer
   per booking) through the events admin API;
2. creates ``--buyers`` customers through the admin API (no registration throttle) and
   logs each one in;
3. waits until bookings knows the event (its ``event.changed`` went through the outbox);
4. runs the sale: every buyer, on its own connection, holds one seat and confirms it,
   until the event is sold out or ``--duration`` passes;
5. reads the availability, checks nothing was oversold, and cancels the event.

Every loop is bounded in count and time. It refuses to run without ``--yes`` (cli.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Refusals that end a buyer's run: nothing left, or the sale is over.
_FINAL = {"sold_out", "sale_closed", "event_cancelled"}


@dataclass(frozen=True)
class BenchConfig:
    url: str
    admin_token: str
    seats: int
    buyers: int
    duration_s: float
    known_timeout_s: float = 60.0  # for bookings to hear of the new event


@dataclass
class BenchReport:
    event_id: int
    seats: int
    buyers: int
    confirmed: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    hold_ms: list[float] = field(default_factory=list)
    sale_s: float = 0.0
    sold: int = 0
    held: int = 0
    available: int = 0

    @property
    def oversold(self) -> int:
        return max(0, self.sold + self.held - self.seats)

    def as_dict(self) -> dict[str, Any]:
        ms = sorted(self.hold_ms)
        return {
            "event_id": self.event_id,
            "seats": self.seats,
            "buyers": self.buyers,
            "confirmed": self.confirmed,
            "bookings_per_s": round(self.confirmed / self.sale_s, 1) if self.sale_s else 0.0,
            "hold_p50_ms": round(statistics.median(ms), 1) if ms else None,
            "hold_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
            "sold": self.sold,
            "held": self.held,
            "available": self.available,
            "oversold": self.oversold,
            "refused": self.refused,
            "errors": self.errors,
            "sale_s": round(self.sale_s, 2),
        }


def describe(report: BenchReport) -> str:
    lines = [f"{key}: {value}" for key, value in report.as_dict().items()]
    return "\n".join(["kubectl evently bench", *("  " + line for line in lines)])


class BenchFailed(Exception):
    """The platform refused a setup step; the message says which and why."""


async def _json(response: aiohttp.ClientResponse, step: str, *expected: int) -> Any:
    if response.status not in expected:
        raise BenchFailed(f"{step}: HTTP {response.status}: {(await response.text())[:300]}")
    return await response.json()


def _event_body(seats: int, run: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "name": f"kubectl evently bench {run}",
        "description": "A throwaway event for a load test; cancelled when it ends.",
        "type": "bench",
        "starts_at": (now + dt.timedelta(days=30)).isoformat(),
        "ends_at": (now + dt.timedelta(days=30, hours=2)).isoformat(),
        "capacity": seats,
        "price": "1.00",
        "currency": "EUR",
        "status": "published",
        "sale_opens_at": (now - dt.timedelta(minutes=1)).isoformat(),
        "max_per_user": max(1, seats),
        "venue": {"name": f"Bench hall {run}", "address": "1 Load Street", "city": "Benchville",
                  "capacity": seats},
    }  # fmt: skip


async def _buyer_token(
    session: aiohttp.ClientSession, config: BenchConfig, admin: dict[str, str], email: str
) -> str:
    password = "Bench-" + uuid.uuid4().hex
    body = {"email": email, "password": password, "name": "Bench buyer"}
    async with session.post(
        f"{config.url}/api/v1/auth/admin/customers", json=body, headers=admin
    ) as response:
        await _json(response, "creating a buyer", 201)
    async with session.post(
        f"{config.url}/api/v1/auth/login", json={"email": email, "password": password}
    ) as response:
        return str((await _json(response, "logging a buyer in", 200))["access_token"])


async def _wait_until_on_sale(
    session: aiohttp.ClientSession, config: BenchConfig, event_id: int
) -> None:
    deadline = time.monotonic() + config.known_timeout_s
    while time.monotonic() < deadline:
        async with session.get(f"{config.url}/api/v1/events/{event_id}/availability") as r:
            if r.status == 200 and (await r.json()).get("on_sale"):
                return
        await asyncio.sleep(0.5)
    raise BenchFailed(f"event {event_id} was not on sale within {config.known_timeout_s:g}s")


async def _buy(
    config: BenchConfig, event_id: int, token: str, report: BenchReport, stop_at: float
) -> None:
    """One buyer: hold one seat and confirm it, again and again, until told no."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=config.url, headers=headers) as session:
        for _ in range(config.seats):  # bounded in count as well as time
            if time.monotonic() > stop_at:
                return
            started = time.perf_counter()
            async with session.post(
                "/api/v1/bookings",
                json={"event_id": event_id, "quantity": 1},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
            report.hold_ms.append((time.perf_counter() - started) * 1000)
            if status != 201:
                code = str((body or {}).get("code", status))
                report.refused[code] = report.refused.get(code, 0) + 1
                if code in _FINAL:
                    return
                if status >= 500 or status == 429:
                    report.errors += 1
                    await asyncio.sleep(0.2)
                continue
            async with session.post(f"/api/v1/bookings/{body['id']}/confirm") as response:
                if response.status == 200:
                    report.confirmed += 1
                else:
                    report.errors += 1


async def run(config: BenchConfig) -> BenchReport:
    """Set up, sell out (or time out), check, clean up."""
    if config.seats < 1 or config.buyers < 1:
        raise BenchFailed("--seats and --buyers must be at least 1")
    admin = {"Authorization": f"Bearer {config.admin_token}"}
    run_id = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{config.url}/api/v1/admin/events", json=_event_body(config.seats, run_id),
            headers=admin,
        ) as response:  # fmt: skip
            event_id = int((await _json(response, "creating the event", 201))["id"])
        report = BenchReport(event_id=event_id, seats=config.seats, buyers=config.buyers)
        try:
            tokens = [
                await _buyer_token(session, config, admin, f"bench-{run_id}-{i}@example.com")
                for i in range(config.buyers)
            ]
            await _wait_until_on_sale(session, config, event_id)
            started = time.monotonic()
            stop_at = started + config.duration_s
            await asyncio.gather(
                *(_buy(config, event_id, token, report, stop_at) for token in tokens)
            )
            report.sale_s = time.monotonic() - started
            async with session.get(f"{config.url}/api/v1/events/{event_id}/availability") as r:
                figures = await _json(r, "reading the availability", 200)
            report.sold = int(figures["sold"])
            report.held = int(figures["held"])
            report.available = int(figures["available"])
        finally:
            async with session.delete(
                f"{config.url}/api/v1/admin/events/{event_id}", headers=admin
            ) as response:
                await response.read()
    return report
