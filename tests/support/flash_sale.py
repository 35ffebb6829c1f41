"""A bounded flash sale with checkable results, driven from inside the test cluster.

An admin publishes an event; ``--users`` customers register, then buy concurrently (hold
then confirm, one or two seats at a time) until the event sells out, and read the event,
search, their profile and the event's analytics in between, so that every service takes
traffic. It stops when the stop file appears, or once sold out with ``--until-sold-out``,
and never later than ``--max-seconds``.

Every response is classified: acknowledged (201 hold, 200 confirm, 200 read), refused
(409 ``sold_out``/``per_user_limit_exceeded``: the sale working as designed) or FAILED
(anything else: 5xx, other 4xx, resets, timeouts). The one retry is the API's own
contract: a 503 ``lock_timeout`` or ``database_unavailable`` with ``Retry-After`` changed
nothing and is retried after that delay with the same Idempotency-Key, at most twice;
each such answer is counted under ``retried``, and a third one FAILS. The last
stdout line is JSON with the counts and the acknowledged booking ids, which the test then
checks against the database (tests/e2e/test_resilience.py): nothing acknowledged lost,
nothing oversold. While running it prints ``progress <seats acknowledged>`` lines.

Runs in a pod of the release's image (aiohttp is there). Usage::

    python flash_sale.py ROUTES_JSON ADMIN_EMAIL ADMIN_PASSWORD [options]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

REFUSALS = {"sold_out", "per_user_limit_exceeded"}
RETRYABLE = {"lock_timeout", "database_unavailable"}  # 503 + Retry-After: nothing changed
MAX_RETRIES = 2


class Sale:
    """Routes requests like the Ingress and tallies every outcome."""

    def __init__(self, session: aiohttp.ClientSession, routes: list[tuple[str, str]]) -> None:
        self.session = session
        self.routes = [(re.compile(p), base.rstrip("/")) for p, base in routes]
        self.requests = 0
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.retried: Counter[str] = Counter()
        self.holds: dict[int, int] = {}  # acknowledged booking id -> quantity
        self.confirmed: set[int] = set()
        self.sold_out = False

    def url(self, path: str) -> str:
        for pattern, base in self.routes:
            if pattern.search(path.split("?", 1)[0]):
                return base + path
        raise ValueError(f"no route for {path}")

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, **headers: str
    ) -> tuple[int, Any]:
        """One request, retried only as the API's 503 + Retry-After answers ask."""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.requests += 1
        for attempt in range(MAX_RETRIES + 1):
            status, data, retry_after = await self._send(method, path, body, headers)
            code = data.get("code") if isinstance(data, dict) else None
            if status != 503 or code not in RETRYABLE or retry_after is None:
                break
            if attempt == MAX_RETRIES:
                break
            self.retried[code] += 1
            await asyncio.sleep(min(float(retry_after), 2.0))
        return status, data

    async def _send(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, str | None]:
        try:
            async with self.session.request(
                method, self.url(path), json=body, headers=headers
            ) as response:
                raw = await response.read()
                data = json.loads(raw) if raw else None
                return response.status, data, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return 0, {"code": type(error).__name__, "detail": str(error)}, None

    def tally(self, what: str, status: int, body: Any, ok: int) -> bool:
        code = (body or {}).get("code") if isinstance(body, dict) else None
        if status == ok:
            self.outcomes[f"{what} {status}"] += 1
            return True
        if status == 409 and code in REFUSALS:
            self.outcomes[f"{what} refused {code}"] += 1
            self.sold_out |= code == "sold_out"
            return False
        self.outcomes[f"{what} FAILED {status} {code}"] += 1
        if len(self.failures) < 20:
            self.failures.append(f"{time.strftime('%X')} {what}: {status} {body}")
        return False


def event_body(word: str, capacity: int, max_per_user: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": f"Flash {word}",
        "description": "A bounded flash sale on the test cluster.",
        "type": "concert",
        "starts_at": (now + timedelta(days=20)).isoformat(),
        "ends_at": (now + timedelta(days=20, hours=3)).isoformat(),
        "capacity": capacity,
        "price": "10.00",
        "currency": "EUR",
        "status": "published",
        "sale_opens_at": (now - timedelta(minutes=5)).isoformat(),
        "max_per_user": max_per_user,
        "venue": {
            "name": "Flash Arena",
            "address": "2 Main",
            "city": "Berlin",
            "capacity": capacity,
        },
    }


async def setup(sale: Sale, args: argparse.Namespace) -> tuple[str, int, str, list[str]]:
    status, session = await sale.call(
        "POST", "/api/v1/auth/admin/login", body={"email": args.email, "password": args.password}
    )
    assert status == 200, f"admin login: {status} {session}"
    admin = session["access_token"]
    word = f"flash{uuid.uuid4().hex[:8]}"
    status, event = await sale.call(
        "POST", "/api/v1/admin/events", admin, event_body(word, args.capacity, args.max_per_user)
    )
    assert status == 201, f"create event: {status} {event}"
    register = asyncio.Semaphore(4)  # bcrypt is the users service's heaviest work

    async def customer(i: int) -> str:
        credentials = {"email": f"buyer{i}-{word}@flash.example", "password": f"Flash-{word}-pw"}
        async with register:
            status, body = await sale.call("POST", "/api/v1/auth/register", body=credentials)
        assert status == 201, f"register: {status} {body}"
        return body["access_token"]

    tokens = await asyncio.gather(*(customer(i) for i in range(args.users)))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # bookings learns the event through the outbox
        status, figures = await sale.call("GET", f"/api/v1/events/{event['id']}/availability")
        if status == 200 and figures.get("on_sale"):
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError("the event never went on sale in bookings")
    sale.requests, sale.outcomes, sale.retried = 0, Counter(), Counter()  # the sale only
    return admin, event["id"], word, tokens


async def buyer(sale: Sale, token: str, event_id: int, word: str, admin: str, stop: Any) -> None:
    reads = [
        ("read event", f"/api/v1/events/{event_id}", None),
        ("read search", f"/api/v1/search?q={word}", None),
        ("read profile", "/api/v1/users/profile", token),
        ("read analytics", f"/api/v1/admin/events/{event_id}/analytics", admin),
    ]
    while not stop():
        if not sale.sold_out:
            quantity = random.choice((1, 1, 2))
            status, booking = await sale.call(
                "POST", "/api/v1/bookings", token, {"event_id": event_id, "quantity": quantity},
                **{"Idempotency-Key": uuid.uuid4().hex},
            )  # fmt: skip
            if sale.tally("hold", status, booking, 201):
                sale.holds[booking["id"]] = booking["quantity"]
                status, body = await sale.call(
                    "POST", f"/api/v1/bookings/{booking['id']}/confirm", token
                )
                if sale.tally("confirm", status, body, 200):
                    sale.confirmed.add(booking["id"])
        what, path, auth = random.choice(reads)
        status, body = await sale.call("GET", path, auth)
        sale.tally(what, status, body, 200)
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        sale = Sale(session, [tuple(r) for r in json.loads(args.routes)])
        admin, event_id, word, tokens = await setup(sale, args)
        started = time.monotonic()

        def stop() -> bool:
            if time.monotonic() - started > args.max_seconds or os.path.exists(args.stop_file):
                return True
            return args.until_sold_out and sale.sold_out

        print(f"started event {event_id}", flush=True)

        async def progress() -> None:
            while not stop():
                print(f"progress {sum(sale.holds.values())}", flush=True)
                await asyncio.sleep(1)

        await asyncio.gather(
            progress(), *(buyer(sale, t, event_id, word, admin, stop) for t in tokens)
        )
        failed = sum(n for key, n in sale.outcomes.items() if "FAILED" in key)
        return {
            "event_id": event_id,
            "capacity": args.capacity,
            "seconds": round(time.monotonic() - started, 1),
            "requests": sale.requests,
            "failed": failed,
            "sold_out": sale.sold_out,
            "outcomes": dict(sale.outcomes),
            "retried": dict(sale.retried),
            "failures": sale.failures,
            "holds": sale.holds,
            "confirmed": sorted(sale.confirmed),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("routes")
    parser.add_argument("email")
    parser.add_argument("password")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=600)
    parser.add_argument("--max-per-user", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--stop-file", default="/tmp/stop")
    parser.add_argument("--until-sold-out", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
