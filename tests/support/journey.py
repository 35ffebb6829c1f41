"""The customer journey, one scenario for every place Evently runs.

An admin publishes an event; a customer registers, logs in, finds it by search, watches
its availability stream, holds every seat, confirms and cancels; a second customer joins
the waitlist of the sold-out event, gets the seats back as an offer and confirms it. At
the door, staff the admin granted ``checkin:scan`` download the check-in list and scan
the ticket (once admitted, then already checked in), and the check-in reaches analytics.

Standard library only, so the very same file runs on a developer machine against
``evently up`` (tests/acceptance) and inside the test cluster, in a pod of the project's
image, against the Services the rendered Ingress names (tests/e2e). Usage::

    python journey.py ROUTES_JSON ADMIN_EMAIL ADMIN_PASSWORD

ROUTES_JSON is ``[[path_regex, base_url], ...]``: the first regex matching a request path
says where to send it (the Ingress's rules in order, or ``[[".*", gateway]]``). It prints
one JSON object of what it saw (the last line) and exits 0, or raises on the first
unexpected answer.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

TIMEOUT_S = 90.0  # every wait below is bounded by this


class JourneyFailed(AssertionError):
    """An answer the journey did not expect."""


class Api:
    """Requests routed by path, as the Ingress (or the gateway) would route them."""

    def __init__(self, routes: list[tuple[str, str]]) -> None:
        self.routes = [(re.compile(pattern), base.rstrip("/")) for pattern, base in routes]

    def url(self, path: str) -> str:
        for pattern, base in self.routes:
            if pattern.search(path.split("?", 1)[0]):
                return base + path
        raise JourneyFailed(f"no route for {path}")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        got, body = self.call(method, path, **kwargs)
        if got != status:
            raise JourneyFailed(f"{method} {path}: expected {status}, got {got}: {body}")
        return body


def eventually(what: str, probe: Any, timeout: float = TIMEOUT_S) -> Any:
    """Call ``probe`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise JourneyFailed(f"{what}: not seen within {timeout:.0f}s (last: {last})")


class AvailabilityStream:
    """Reads ``availability`` server-sent events in a thread into a queue."""

    def __init__(self, api: Api, event_id: int) -> None:
        request = urllib.request.Request(
            api.url(f"/api/v1/events/{event_id}/availability/stream"),
            headers={"Accept": "text/event-stream"},
        )
        self.response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        self.content_type = self.response.headers.get("Content-Type", "")
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    self.events.put(json.loads(line[len("data: ") :]))
        except (OSError, ValueError, AttributeError):  # close() from the other thread ends it
            return

    def until(self, what: str, predicate: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                state = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(state):
                return state
        raise JourneyFailed(f"availability stream: {what} not seen within {TIMEOUT_S:.0f}s")

    def close(self) -> None:
        self.response.close()


def event_body(name: str, capacity: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": name,
        "description": "The customer journey's event.",
        "type": "concert",
        "starts_at": (now + timedelta(days=30)).isoformat(),
        "ends_at": (now + timedelta(days=30, hours=2)).isoformat(),
        "capacity": capacity,
        "price": "42.00",
        "currency": "EUR",
        "status": "published",
        "sale_opens_at": (now - timedelta(hours=1)).isoformat(),
        "max_per_user": capacity,
        "venue": {"name": "Journey Hall", "address": "1 Main", "city": "Berlin", "capacity": 500},
    }


def customer(api: Api, label: str) -> tuple[str, dict[str, Any]]:
    """Register a fresh customer, then log in as them: (access token, user)."""
    email = f"{label}-{uuid.uuid4().hex[:10]}@journey.example"
    password = f"Journey-{uuid.uuid4().hex}"
    api.expect(201, "POST", "/api/v1/auth/register", body={"email": email, "password": password})
    session = api.expect(
        200, "POST", "/api/v1/auth/login", body={"email": email, "password": password}
    )
    return session["access_token"], session["user"]


def door_staff(api: Api, admin: str) -> str:
    """A fresh account the admin grants checkin:scan; its next token carries it."""
    email = f"staff-{uuid.uuid4().hex[:10]}@journey.example"
    password = f"Journey-{uuid.uuid4().hex}"
    account = api.expect(
        201, "POST", "/api/v1/auth/register", body={"email": email, "password": password}
    )
    api.expect(
        200,
        "POST",
        f"/api/v1/auth/admin/users/{account['user']['id']}/grant",
        token=admin,
        body={"permission": "checkin:scan"},
    )
    session = api.expect(
        200, "POST", "/api/v1/auth/login", body={"email": email, "password": password}
    )
    return session["access_token"]


def check_in_at_the_door(
    api: Api, admin: str, event_id: int, booking_id: int, holder: str
) -> dict[str, Any]:
    """Staff download the event's check-in list and scan the holder's ticket twice; the
    check-in reaches analytics."""
    seen: dict[str, Any] = {}
    path = f"/api/v1/bookings/{booking_id}/tickets"
    code = api.expect(200, "GET", path, token=holder)["tickets"][0]["code"]
    scans = f"/api/v1/events/{event_id}/checkin/scans"
    seen["customer_scan_status"] = api.call(
        "POST", scans, body={"code": code, "gate": "north"}, token=holder
    )[0]
    staff = door_staff(api, admin)
    listing = api.expect(200, "GET", f"/api/v1/events/{event_id}/checkin/list", token=staff)
    published = api.expect(200, "GET", "/.well-known/ticket-keys.json")["keys"]
    seen["listed"] = code in [t["code"] for t in listing["list"]["tickets"]]
    seen["list_kid_published"] = listing["signature"]["kid"] in [k["kid"] for k in published]
    answers = [
        api.expect(200, "POST", scans, body={"code": code, "gate": gate}, token=staff)
        for gate in ("north", "south")
    ]
    seen["scans"] = [[a["result"], a["checked_in_gate"]] for a in answers]

    def reported() -> int:
        status, report = api.call("GET", f"/api/v1/admin/analytics/events/{event_id}", token=admin)
        return report["checkins"]["checked_in"] if status == 200 else 0

    seen["checked_in_reported"] = eventually("the check-in in analytics", reported)
    return seen


def run(routes: list[tuple[str, str]], admin_email: str, admin_password: str) -> dict[str, Any]:
    api = Api(routes)
    seen: dict[str, Any] = {}
    admin = api.expect(
        200,
        "POST",
        "/api/v1/auth/admin/login",
        body={"email": admin_email, "password": admin_password},
    )["access_token"]
    word = f"journey{uuid.uuid4().hex[:8]}"
    event = api.expect(
        201, "POST", "/api/v1/admin/events", token=admin, body=event_body(f"Concert {word}", 2)
    )
    event_id = event["id"]
    seen["event_id"] = event_id

    alice, alice_user = customer(api, "alice")
    seen["registered"] = alice_user["email"]

    def found() -> list[int]:
        status, page = api.call("GET", f"/api/v1/search?q={word}")
        return [hit["id"] for hit in page["hits"]] if status == 200 else []

    seen["search_ids"] = eventually("the event in search", found)

    def on_sale() -> dict[str, Any] | None:
        status, figures = api.call("GET", f"/api/v1/events/{event_id}/availability")
        return figures if status == 200 and figures.get("on_sale") else None

    eventually("bookings' inventory of the event", on_sale)
    stream = AvailabilityStream(api, event_id)
    try:
        seen["stream_content_type"] = stream.content_type
        seen["stream_first"] = stream.until("the state", lambda s: s["event_id"] == event_id)
        hold = api.expect(
            201,
            "POST",
            "/api/v1/bookings",
            token=alice,
            body={"event_id": event_id, "quantity": 2},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        seen["hold_status"] = hold["status"]
        seen["stream_after_hold"] = stream.until("the held seats", lambda s: s["available"] == 0)
    finally:
        stream.close()

    bob, _ = customer(api, "bob")
    entry = api.expect(
        201, "POST", f"/api/v1/events/{event_id}/waitlist", token=bob, body={"quantity": 1}
    )
    seen["waitlist_joined"] = [entry["status"], entry["position"]]

    confirmed = api.expect(200, "POST", f"/api/v1/bookings/{hold['id']}/confirm", token=alice)
    seen["confirm_status"] = confirmed["status"]
    cancelled = api.expect(200, "POST", f"/api/v1/bookings/{hold['id']}/cancel", token=alice)
    seen["cancel_status"] = cancelled["status"]

    def offered() -> dict[str, Any] | None:
        status, mine = api.call("GET", f"/api/v1/events/{event_id}/waitlist/me", token=bob)
        return mine if status == 200 and mine["status"] == "offered" else None

    offer = eventually("bob's waitlist offer", offered)
    taken = api.expect(200, "POST", f"/api/v1/bookings/{offer['booking_id']}/confirm", token=bob)
    seen["offer_confirmed"] = [taken["status"], taken["quantity"]]
    seen["waitlist_final"] = api.expect(
        200, "GET", f"/api/v1/events/{event_id}/waitlist/me", token=bob
    )["status"]
    mine = api.expect(200, "GET", "/api/v1/users/bookings", token=alice)
    seen["alice_bookings"] = [b["status"] for b in mine["items"]]
    seen["door"] = check_in_at_the_door(api, admin, event_id, offer["booking_id"], bob)
    return seen


if __name__ == "__main__":
    routes_json, email, password = sys.argv[1:4]
    print(json.dumps(run([tuple(r) for r in json.loads(routes_json)], email, password)))
