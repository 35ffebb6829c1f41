"""Analytics agrees with the real bookings service after a scripted sale.

Three real services on 127.0.0.1 ports, each delivering its outbox with its own relay:
events creates and edits the event (event.changed reaches bookings and analytics);
bookings takes holds, confirmations, cancellations, expiries and waitlist offers
through its public API (booking.changed, waitlist.changed and inventory.changed reach
analytics). Then analytics' figures must equal bookings' own counts, read through
bookings' internal APIs and cross-checked in its tables by this test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from evently.core.auth import AUTHENTICATOR
from tests.conftest import INTERNAL_API_KEY
from tests.support.prometheus import free_port

INTERNAL = {"X-Internal-Key": INTERNAL_API_KEY}
USERS = range(1, 9)
FAST = {"OUTBOX_POLL_INTERVAL_S": "0.1", "BOOKINGS_OUTBOX_POLL_INTERVAL_S": "0.1"}


async def eventually(check, what: str, attempts: int = 300) -> None:
    """Poll ``check`` every 0.05 s, a bounded number of times."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def call(client: TestClient, method: str, path: str, status: int = 200, **kw) -> Any:
    response = await client.request(method, path, **kw)
    body = await response.json()
    assert response.status == status, (method, path, response.status, body)
    return body


@dataclass
class Platform:
    events: TestClient
    bookings: TestClient
    analytics: TestClient


@pytest.fixture
async def platform(aiohttp_server, aiohttp_client, make_app, tokens) -> Platform:
    """Analytics, bookings and events on real ports, relaying to each other."""

    def app(service: str, **env: str):
        built = make_app(service, env={**FAST, **env})
        built[AUTHENTICATOR] = tokens.authenticator()
        return built

    nowhere = f"http://127.0.0.1:{free_port()}"  # search is not running
    analytics = await aiohttp_server(app("analytics"))
    analytics_url = f"http://127.0.0.1:{analytics.port}"
    bookings_port = free_port()
    bookings_url = f"http://127.0.0.1:{bookings_port}"
    events = await aiohttp_server(
        app("events", BOOKINGS_URL=bookings_url, ANALYTICS_URL=analytics_url, SEARCH_URL=nowhere)
    )
    bookings = await aiohttp_server(
        app(
            "bookings",
            ANALYTICS_URL=analytics_url,
            EVENTS_URL=f"http://127.0.0.1:{events.port}",
            SEARCH_URL=nowhere,
            BOOKINGS_EXPIRY_INTERVAL_S="0.1",
            BOOKINGS_PUBLISH_INTERVAL_S="0.01",
            BOOKINGS_RECONCILE_INTERVAL_S="0.5",
            BOOKINGS_LOCK_TIMEOUT_MS="10000",
        ),
        port=bookings_port,
    )
    return Platform(
        await aiohttp_client(events),
        await aiohttp_client(bookings),
        await aiohttp_client(analytics),
    )


class Buyer:
    """A customer using bookings' public API with a real signed token."""

    def __init__(self, client: TestClient, headers: dict[str, str], event_id: int) -> None:
        self.client = client
        self.headers = headers
        self.event_id = event_id

    async def hold(self, quantity: int) -> int:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        body = {"event_id": self.event_id, "quantity": quantity}
        booking = await call(
            self.client, "POST", "/api/v1/bookings", 201, json=body, headers=headers
        )
        return booking["id"]

    async def confirm(self, booking_id: int) -> None:
        await call(
            self.client, "POST", f"/api/v1/bookings/{booking_id}/confirm", headers=self.headers
        )

    async def cancel(self, booking_id: int) -> None:
        await call(
            self.client, "POST", f"/api/v1/bookings/{booking_id}/cancel", headers=self.headers
        )

    async def join_waitlist(self, quantity: int) -> None:
        path = f"/api/v1/events/{self.event_id}/waitlist"
        await call(
            self.client, "POST", path, 201, json={"quantity": quantity}, headers=self.headers
        )

    async def offered_booking(self) -> int:
        path = f"/api/v1/events/{self.event_id}/waitlist/me"
        return (await call(self.client, "GET", path, headers=self.headers))["booking_id"]

    async def booking_status(self, booking_id: int) -> str:
        path = f"/api/v1/bookings/{booking_id}"
        return (await call(self.client, "GET", path, headers=self.headers))["status"]


def event_input(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "name": "Agreement night",
        "type": "concert",
        "starts_at": (now + timedelta(days=30)).isoformat(),
        "ends_at": (now + timedelta(days=30, hours=3)).isoformat(),
        "capacity": 6,
        "price": "49.90",
        "currency": "EUR",
        "status": "published",
        "max_per_user": 6,
        "venue": {"name": "Hall", "address": "1 Main St", "city": "Berlin", "capacity": 500},
    }
    return {**body, **changes}


async def create_event(platform: Platform, tokens) -> int:
    """Create the event through the events API; wait until bookings sells it."""
    event = await call(
        platform.events,
        "POST",
        "/api/v1/admin/events",
        201,
        json=event_input(),
        headers=tokens.admin(),
    )

    async def bookings_knows_it() -> bool:
        path = f"/internal/events/{event['id']}/availability"
        response = await platform.bookings.get(path, headers=INTERNAL)
        return response.status == 200 and (await response.json())["on_sale"]

    await eventually(bookings_knows_it, "event.changed reaches bookings")
    return event["id"]


async def shorten_ttls(platform: Platform, tokens, event_id: int) -> None:
    """From now on holds and offers last one second (an event update through events)."""
    path = f"/api/v1/admin/events/{event_id}"
    response = await platform.events.get(path, headers=tokens.admin())
    etag = response.headers["ETag"]
    body = event_input(hold_ttl_seconds=1, waitlist_offer_ttl_seconds=1)
    headers = {**tokens.admin(), "If-Match": etag}
    await call(platform.events, "PUT", path, json=body, headers=headers)


async def play_sale(platform: Platform, tokens, database_url: str) -> int:
    """Holds, confirms, cancels (held and confirmed), waitlist offers, expiries."""
    event_id = await create_event(platform, tokens)
    users = {n: Buyer(platform.bookings, tokens.customer(n), event_id) for n in USERS}
    a = await users[1].hold(2)
    await users[1].confirm(a)
    b = await users[2].hold(1)
    await users[2].cancel(b)
    c = await users[3].hold(2)
    await users[3].confirm(c)
    await users[4].hold(2)  # 4 sold + 2 held: sold out
    await users[5].join_waitlist(1)
    await users[6].join_waitlist(2)
    await users[7].join_waitlist(1)
    await users[3].cancel(c)  # 2 seats back: offers to users 5 (1 seat) and 6 (1 seat)
    await users[5].confirm(await users[5].offered_booking())
    offer_6 = await users[6].offered_booking()
    await shorten_ttls(platform, tokens, event_id)
    await wait_for_ttl(database_url, event_id)
    await users[6].cancel(offer_6)  # declined: user 7 gets a 1 s offer, which expires
    offer_7 = await users[7].offered_booking()

    async def expired(user: int, booking_id: int) -> bool:
        return await users[user].booking_status(booking_id) == "expired"

    await eventually(lambda: expired(7, offer_7), "user 7's offer expires")
    hold = await users[8].hold(1)
    await eventually(lambda: expired(8, hold), "user 8's hold expires")
    return event_id


async def wait_for_ttl(database_url: str, event_id: int) -> None:
    """Bookings applied the shorter TTLs (its inventory row, read by the test only)."""
    conn = await asyncpg.connect(database_url)
    try:

        async def applied() -> bool:
            ttl = await conn.fetchval(
                "SELECT waitlist_offer_ttl_seconds FROM bookings.inventory WHERE event_id = $1",
                event_id,
            )
            return ttl == 1

        await eventually(applied, "bookings applies the new TTLs")
    finally:
        await conn.close()


async def bookings_own_counts(bookings: TestClient, event_id: int) -> dict[str, Any]:
    """Bookings' figures from its own internal APIs."""
    availability = await call(
        bookings, "GET", f"/internal/events/{event_id}/availability", headers=INTERNAL
    )
    items = []
    for user in USERS:
        page = await call(
            bookings,
            "GET",
            f"/internal/users/{user}/bookings",
            params={"limit": "100"},
            headers=INTERNAL,
        )
        items += [b for b in page["items"] if b["event_id"] == event_id]
    seats: Counter[str] = Counter()
    for b in items:
        seats[b["status"]] += b["quantity"]
    return {
        "availability": availability,
        "by_status": Counter(b["status"] for b in items),
        "seats": seats,
        "revenue": sum(
            (Decimal(b["amount"]) for b in items if b["status"] == "confirmed"), Decimal()
        ),
        "holds_placed": len(items),
        "ever_confirmed": sum(1 for b in items if b["confirmed_at"]),
    }


async def analytics_report(analytics: TestClient, tokens, event_id: int) -> dict[str, Any]:
    path = f"/api/v1/admin/analytics/events/{event_id}"
    return await call(analytics, "GET", path, headers=tokens.admin())


async def test_analytics_agrees_with_bookings_after_a_scripted_sale(platform, tokens, database_url):
    event_id = await play_sale(platform, tokens, database_url)
    own = await bookings_own_counts(platform.bookings, event_id)
    wanted = own["availability"]

    async def delivered() -> bool:
        report = await analytics_report(platform.analytics, tokens, event_id)
        seats = (report["capacity"], report["sold"], report["held"], report["available"])
        return report["bookings"]["holds_placed"] == own["holds_placed"] and seats == (
            wanted["capacity"],
            wanted["sold"],
            wanted["held"],
            wanted["available"],
        )

    await eventually(delivered, "the bookings outbox reaches analytics")
    report = await analytics_report(platform.analytics, tokens, event_id)

    # Seats: bookings' availability API, and the script's arithmetic.
    seats = (report["capacity"], report["sold"], report["held"], report["available"])
    assert seats == (wanted["capacity"], wanted["sold"], wanted["held"], wanted["available"])
    assert seats == (6, 3, 2, 1)
    assert (report["name"], report["status"]) == ("Agreement night", "published")
    # Bookings: bookings' own list of them, status by status.
    counts = report["bookings"]
    assert counts["holds_placed"] == own["holds_placed"] == 8
    assert counts["confirmed"] == own["ever_confirmed"] == 3
    assert counts["cancelled"] == own["by_status"]["cancelled"] == 3
    assert counts["expired"] == own["by_status"]["expired"] == 2
    assert counts["active_holds"] == own["by_status"]["held"] == 1
    assert counts["tickets_sold"] == own["seats"]["confirmed"] == 3
    assert counts["tickets_held"] == own["seats"]["held"] == 2
    assert report["revenue_by_currency"] == {"EUR": str(own["revenue"])} == {"EUR": "149.70"}
    assert report["hold_to_confirm_conversion"] == round(3 / 8, 4)

    # The waitlist and sold seats, cross-checked in bookings' tables by the test itself.
    conn = await asyncpg.connect(database_url)
    try:
        entries = dict(
            await conn.fetch(
                "SELECT status, count(*) FROM bookings.waitlist_entries WHERE event_id = $1 "
                "GROUP BY status",
                event_id,
            )
        )
        offers = await conn.fetchval(
            "SELECT count(*) FROM bookings.bookings WHERE event_id = $1 "
            "AND waitlist_entry_id IS NOT NULL",
            event_id,
        )
        sold = await conn.fetchval("SELECT bookings.sold_seats($1)", event_id)
    finally:
        await conn.close()
    waitlist = report["waitlist"]
    assert waitlist["entries_by_status"] == entries == {"converted": 1, "left": 1, "expired": 1}
    assert waitlist["joins"] == sum(entries.values()) == 3
    assert waitlist["offers"] == offers == 3
    assert (waitlist["conversions"], waitlist["offer_expirations"], waitlist["left"]) == (1, 1, 1)
    assert report["sold"] == sold

    overview = await call(
        platform.analytics, "GET", "/api/v1/admin/analytics/overview", headers=tokens.admin()
    )
    assert overview["tickets_sold"] == own["seats"]["confirmed"]
    assert overview["revenue_by_currency"] == {"EUR": "149.70"}
    assert overview["events"]["on_sale"] == 1


async def test_check_ins_at_the_door_reach_the_event_report(platform, tokens):
    """Door staff scan through bookings' public API; ticket.checked_in reaches analytics
    through bookings' real relay, once per ticket however often it is scanned."""
    event_id = await create_event(platform, tokens)
    codes = []
    for user in (1, 2):
        buyer = Buyer(platform.bookings, tokens.customer(user), event_id)
        booking_id = await buyer.hold(2)
        await buyer.confirm(booking_id)
        path = f"/api/v1/bookings/{booking_id}/tickets"
        tickets = await call(platform.bookings, "GET", path, headers=buyer.headers)
        codes += [t["code"] for t in tickets["tickets"]]
    staff = {"Authorization": f"Bearer {tokens.token(50, perms=('checkin:scan',))}"}
    scans = f"/api/v1/events/{event_id}/checkin/scans"
    results = []
    for code, gate in ((codes[0], "north"), (codes[0], "south"), (codes[1], "north"),
                       (codes[2], "south")):  # fmt: skip
        answer = await call(
            platform.bookings, "POST", scans, json={"code": code, "gate": gate}, headers=staff
        )
        results.append(answer["result"])
    assert results == ["valid", "already_checked_in", "valid", "valid"]

    async def arrived() -> bool:
        report = await analytics_report(platform.analytics, tokens, event_id)
        return report["checkins"]["checked_in"] == 3

    await eventually(arrived, "ticket.checked_in reaches analytics")
    report = await analytics_report(platform.analytics, tokens, event_id)
    assert report["checkins"]["by_gate"] == {"north": 2, "south": 1}
    assert report["checkins"]["check_in_rate"] == 0.75  # 3 of the 4 tickets sold
    assert sum(p["checked_in"] for p in report["timeline"]["points"]) == 3
