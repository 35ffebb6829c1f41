"""Live seat status: a seated event's availability stream sends a snapshot of its seats,
then only the seats each change touched; a watcher that applies them ends with exactly
the seats stored in ``bookings.event_seats``."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from typing import Any

import pytest

from evently.bookings.availability_stream import CHANNEL, LISTENER_NAME, Frame
from evently.bookings.context import BOOKINGS
from evently.bookings.event_cancellation import cancel_bookings_of_cancelled_events
from tests.bookings.conftest import (
    Buyer,
    build_rectangular_map,
    eventually,
    seating_of,
    send_event,
    upload_map,
)
from tests.bookings.test_availability_stream import read_until
from tests.bookings.test_seat_holds import hold_seats
from tests.events.test_seat_map_rules import small_map

EVENT = 801
MAX_LINES = 500
GENERAL_ADMISSION_KEYS = {
    "event_id", "version", "capacity", "sold", "held", "available", "on_sale", "sold_out",
    "status", "waitlisted",
}  # fmt: skip


class SeatWatcher:
    """A stream client that rebuilds the seats from the snapshot and the diffs, checking
    that the snapshot comes first and that every diff follows the version before it."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.version: int | None = None
        # seat id -> held | sold | blocked | kept_back (else free)
        self.seats: dict[str, str] = {}
        self.messages: list[dict[str, Any]] = []

    async def next_message(self) -> dict[str, Any]:
        data = None
        for _ in range(MAX_LINES):
            line = (await asyncio.wait_for(self.response.content.readline(), 10)).decode()
            if line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "\n" and data is not None:
                self.apply(data)
                return data
        raise AssertionError("no availability message")

    def apply(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        seats = message["seats"]
        if seats.get("snapshot"):
            self.seats = {seat: status for status in ("held", "sold", "blocked", "kept_back")
                          for seat in seats.get(status, ())}  # fmt: skip
        else:
            assert self.version is not None, "a diff before the snapshot"
            assert message["version"] == self.version + 1, "a diff that skips a version"
            assert set(seats) <= {"held", "sold", "free", "kept_back"}, seats
            for status, seat_ids in seats.items():
                assert seat_ids, f"an empty list is left out: {seats}"
                for seat in seat_ids:
                    assert self.seats.get(seat) != "blocked"
                    if status == "free":
                        self.seats.pop(seat, None)
                    else:
                        self.seats[seat] = status
        self.version = message["version"]

    async def catch_up(self, db: Any, event_id: int = EVENT) -> None:
        """Read messages until the rebuilt seats are the stored ones (bounded)."""
        for _ in range(50):
            shown = {seat: status for seat, status in self.seats.items() if status != "kept_back"}
            if shown == await stored_seats(db, event_id):
                return
            await self.next_message()
        raise AssertionError(f"the stream never showed {await stored_seats(db, event_id)}")


async def stored_seats(db: Any, event_id: int) -> dict[str, str]:
    """The event's seats that are not free, as stored."""
    rows = await db.fetch(
        "SELECT seat_id, status FROM bookings.event_seats WHERE event_id = $1 AND status <> 'free'",
        event_id,
    )
    return {r["seat_id"]: r["status"] for r in rows}


async def watch(client: Any, event_id: int = EVENT) -> SeatWatcher:
    response = await client.get(f"/api/v1/events/{event_id}/availability/stream")
    assert response.status == 200
    watcher = SeatWatcher(response)
    first = await watcher.next_message()
    assert first["seats"]["snapshot"] is True, first
    return watcher


async def held(client: Any, tokens: Any, user_id: int, seat_ids: list[str]) -> dict:
    status, booking, _ = await hold_seats(Buyer(client, tokens, user_id), seat_ids, event_id=EVENT)
    assert status == 201, booking
    return booking


@pytest.fixture
async def small_seated(seated_client, events_client, tokens) -> dict:
    """Event 801 on the small map (seat ``stalls-B-1`` blocked), 4 seats per buyer."""
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, EVENT, max_per_user=4, hold_ttl_seconds=600,
                     **seating_of(seat_map))  # fmt: skip
    return seat_map


async def test_a_seated_stream_starts_with_a_snapshot_of_the_seats_that_are_not_free(
    seated_client, small_seated, tokens, db
):
    early = await held(seated_client, tokens, 1, ["stalls-A-1", "stalls-A-2"])
    assert (await Buyer(seated_client, tokens, 1).confirm(early["id"]))[0] == 200
    await held(seated_client, tokens, 2, ["vip-1"])

    async def published() -> bool:  # the publisher ran: no seat waits to be sent
        return not await db.fetchval(
            "SELECT count(*) FROM bookings.event_seats WHERE event_id = $1"
            " AND status <> published_status AND status <> 'blocked'",
            EVENT,
        )

    await eventually(published)
    watcher = await watch(seated_client)

    seats = watcher.messages[0]["seats"]
    assert seats == {"snapshot": True, "held": ["vip-1"], "sold": ["stalls-A-1", "stalls-A-2"],
                     "blocked": ["stalls-B-1"]}  # fmt: skip
    assert watcher.seats == await stored_seats(db, EVENT)
    assert watcher.messages[0]["held"] == 1 and watcher.messages[0]["sold"] == 2
    watcher.response.close()


async def test_holds_confirms_cancels_and_expiries_arrive_as_diffs_of_the_seats_they_touch(
    seated_client, small_seated, tokens, db
):
    watcher = await watch(seated_client)
    assert watcher.seats == {"stalls-B-1": "blocked"}

    first = await held(seated_client, tokens, 1, ["stalls-A-1", "stalls-A-2"])
    await watcher.catch_up(db)
    assert watcher.messages[-1]["seats"] == {"held": ["stalls-A-1", "stalls-A-2"]}
    assert watcher.messages[-1]["held"] == 2

    assert (await Buyer(seated_client, tokens, 1).confirm(first["id"]))[0] == 200
    await watcher.catch_up(db)
    assert watcher.messages[-1]["seats"] == {"sold": ["stalls-A-1", "stalls-A-2"]}

    second = await held(seated_client, tokens, 2, ["vip-1", "stalls-A-3"])
    await watcher.catch_up(db)
    assert (await Buyer(seated_client, tokens, 2).cancel(second["id"]))[0] == 200
    await watcher.catch_up(db)
    assert watcher.messages[-1]["seats"] == {"free": ["stalls-A-3", "vip-1"]}

    third = await held(seated_client, tokens, 3, ["box-1-A"])
    await watcher.catch_up(db)
    # Its hold runs out now: the sweeper expires it and frees the seat.
    await db.execute(
        "UPDATE bookings.bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1",
        third["id"],
    )

    async def expired() -> bool:
        status = await db.fetchval(
            "SELECT status FROM bookings.bookings WHERE id = $1", third["id"]
        )
        return status == "expired"

    await eventually(expired)
    await watcher.catch_up(db)
    assert watcher.messages[-1]["seats"] == {"free": ["box-1-A"]}
    assert watcher.seats == {"stalls-A-1": "sold", "stalls-A-2": "sold", "stalls-B-1": "blocked"}
    # Snapshot first, then diffs only: never the map again.
    assert all("snapshot" not in m["seats"] for m in watcher.messages[1:])
    watcher.response.close()


async def test_a_general_admission_stream_carries_no_seats(client, buyer):
    await send_event(client, 1, capacity=10)
    response = await client.get("/api/v1/events/1/availability/stream")
    watcher = SeatWatcher(response)
    watcher.apply = watcher.messages.append  # type: ignore[method-assign]
    first = await watcher.next_message()
    assert (await buyer(1).hold(1, 2))[0] == 201
    change = await watcher.next_message()
    assert set(first) == set(change) == GENERAL_ADMISSION_KEYS
    assert change["held"] == 2
    response.close()


async def test_many_watchers_of_a_busy_sale_all_end_with_the_stored_seats(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=4, seats_per_row=10)
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(seat_map))
    watchers = [await watch(seated_client) for _ in range(5)]
    me = Buyer(seated_client, tokens, 1)

    async def buy(user_id: int, row: str, first: int) -> None:
        buyer = Buyer(seated_client, tokens, user_id)
        seats = [f"S1-{row}-{n}" for n in range(first, first + 3)]
        status, booking, _ = await hold_seats(buyer, seats, event_id=EVENT)
        assert status == 201, booking
        if user_id % 2:
            assert (await buyer.confirm(booking["id"]))[0] == 200
        else:
            assert (await buyer.cancel(booking["id"]))[0] == 200

    # Buyers 1 and 3 (rows A and C) confirm, 2 and 4 cancel; then again beside them.
    await asyncio.gather(*(buy(user, row, 1) for user, row in enumerate("ABCD", start=1)))
    await asyncio.gather(*(buy(user, row, 4) for user, row in enumerate("ABCD", start=11)))
    assert (await hold_seats(me, ["S1-D-10"], event_id=EVENT))[0] == 201
    stored = await stored_seats(db, EVENT)
    assert len(stored) == 13  # rows A and C: seats 1-6 sold; S1-D-10 held
    for watcher in watchers:
        await watcher.catch_up(db)
        assert watcher.seats == stored
        watcher.response.close()


async def test_a_change_too_large_to_notify_reaches_watchers_as_a_snapshot(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=10, seats_per_row=100)
    seating = seating_of(seat_map)
    await send_event(seated_client, EVENT, max_per_user=100, **seating)
    watcher = await watch(seated_client)
    for user_id, row in enumerate("ABCDEFGHIJ", start=1):
        await held(seated_client, tokens, user_id, [f"S1-{row}-{n}" for n in range(1, 101)])
    await watcher.catch_up(db)

    # The event's cancellation frees 1,000 seats in one transaction: about 10 kB of ids,
    # more than a notification holds.
    await send_event(seated_client, EVENT, version=2, status="cancelled", **seating)
    await cancel_bookings_of_cancelled_events(seated_client.app[BOOKINGS])
    await watcher.catch_up(db)

    assert watcher.seats == {}
    assert watcher.messages[-1]["seats"]["snapshot"] is True
    assert watcher.messages[-1]["seats"]["held"] == []
    watcher.response.close()


async def test_a_watcher_catches_up_after_the_listen_connection_is_lost(
    seated_client, small_seated, tokens, db
):
    watcher = await watch(seated_client)
    hub = seated_client.app[BOOKINGS].streams
    await asyncio.wait_for(hub.listening.wait(), 10)
    killed = await db.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_NAME,
    )
    assert killed == 1
    await held(seated_client, tokens, 1, ["stalls-A-3", "vip-1"])
    await watcher.catch_up(db)
    assert watcher.seats == {"stalls-A-3": "held", "vip-1": "held", "stalls-B-1": "blocked"}
    watcher.response.close()


async def test_a_diff_that_skips_a_version_makes_the_hub_read_the_seats_again(
    seated_client, small_seated, tokens, db
):
    watcher = await watch(seated_client)
    await held(seated_client, tokens, 1, ["stalls-A-1"])
    await watcher.catch_up(db)
    # A notification whose version is two ahead of the last: one was missed.
    missed = {
        **watcher.messages[-1],
        "version": watcher.version + 2,
        "seats": {"held": ["box-1-A"]},
    }
    await db.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(missed))
    await held(seated_client, tokens, 2, ["stalls-A-2"])
    await watcher.catch_up(db)
    assert watcher.seats == await stored_seats(db, EVENT)
    assert "box-1-A" not in watcher.seats


async def test_a_stalled_watcher_resumes_from_the_newest_snapshot_never_from_a_gap(
    seated_client, small_seated
):
    hub = seated_client.app[BOOKINGS].streams
    reader = await watch(seated_client)
    # A client that stops reading, with a tiny receive window: its connection backs up.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((seated_client.server.host, seated_client.server.port))
    stalled.sendall(f"GET /api/v1/events/{EVENT}/availability/stream HTTP/1.1\r\n".encode()
                    + b"Host: t\r\n\r\n")  # fmt: skip

    async def both_subscribed() -> bool:
        return hub.subscriber_count == 2

    await eventually(both_subscribed)
    counts = {k: v for k, v in reader.messages[0].items() if k != "seats"}
    padding = "x" * 40_000  # 300 changes of 40 kB: far more than the kernel buffers
    changes = range(counts["version"] + 1, counts["version"] + 301)
    for version in changes:
        seats = {"held": ["stalls-A-1"]} if version % 2 else {"free": ["stalls-A-1"]}
        hub.publish(Frame.seat_change({**counts, "version": version, "p": padding}, seats))
        assert (await reader.next_message())["version"] == version  # the reader gets each

    # Once it reads again, the stalled client has what was written before it backed up,
    # then the newest snapshot: never a diff that does not follow the one before.
    stalled.setblocking(False)
    stream, _ = await asyncio.open_connection(sock=stalled)
    newest = b"id: %d\n" % changes[-1]
    raw = await read_until(stream, newest)
    while b"}\n\n" not in raw[raw.index(newest) :]:  # the rest of the newest message
        more = await asyncio.wait_for(stream.read(1 << 16), 10)
        assert more, "the stream ended"
        raw += more
    watcher = SeatWatcher(None)
    for data in re.findall(rb"(?m)^data: (\{.*\})$", raw):
        watcher.apply(json.loads(data))
    assert watcher.version == changes[-1]
    assert watcher.seats == reader.seats
    snapshots = [m for m in watcher.messages if m["seats"].get("snapshot")]
    assert len(snapshots) >= 2  # the first, and the one it resumed from
    assert len(watcher.messages) < len(changes)
    stalled.close()
    reader.response.close()


async def test_a_new_seating_reaches_an_open_stream_as_a_snapshot_with_its_blocked_seats(
    seated_client, events_client, small_seated, tokens, db
):
    watcher = await watch(seated_client)
    assert watcher.seats == {"stalls-B-1": "blocked"}
    # Another map of the same size (six sellable seats: the counts do not change) whose
    # blocked seat is another one.
    other = small_map()
    other["sections"][0]["rows"][1]["seats"][0]["flags"] = []
    other["sections"][0]["rows"][0]["seats"][2]["flags"] = ["blocked"]
    other_map = await upload_map(events_client, tokens, other)

    await send_event(seated_client, EVENT, version=2, max_per_user=4, **seating_of(other_map))
    await watcher.catch_up(db)

    assert watcher.seats == {"stalls-A-3": "blocked"}
    assert watcher.messages[-1]["seats"]["snapshot"] is True
    watcher.response.close()
