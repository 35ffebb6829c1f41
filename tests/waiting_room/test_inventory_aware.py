"""The room follows the inventory: a sell-out reaches every waiter at once with the
waitlist offer (or the room closes), seats coming back resume admission, and nobody is
admitted to buy seats that no longer exist."""

from __future__ import annotations

from datetime import timedelta

from evently.services import load_service
from evently.waiting_room.context import WAITING_ROOM
from evently.waiting_room.ticker import shopper_slots
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.waiting_room.conftest import (
    bearer,
    configure_room,
    join,
    report_inventory,
    status,
    tick,
    utc,
)
from tests.waiting_room.test_status_poll import until

T0 = utc(2030, 1, 1, 12, 0, 0)


async def open_room(room, tokens, visitors: int, **settings) -> None:
    await configure_room(room, 1, **settings)
    await tick(room, 1, T0)
    for user_id in range(1, visitors + 1):
        await join(room, tokens, 1, user_id)


async def test_a_sell_out_tells_every_waiter_and_offers_the_waitlist(room, tokens):
    await open_room(room, tokens, 3, admission_rate_per_minute=60)
    await tick(room, 1, T0 + timedelta(seconds=1))  # visitor 1 is admitted
    poll = await room.get("/api/v1/events/1/waiting-room/me", headers=bearer(tokens, 3))
    etag = poll.headers["ETag"]
    versions = room.app[WAITING_ROOM].versions
    before = versions.current(1)

    await report_inventory(room, 1, 1, sold_out=True)
    # The poll answers from what this replica has heard (NOTIFY, at commit): wait for it.
    await until(lambda: versions.current(1) > before, "the replica hears of the sell-out")

    again = await room.get(
        "/api/v1/events/1/waiting-room/me", headers=bearer(tokens, 3) | {"If-None-Match": etag}
    )
    assert again.status == 200  # the room's state version moved: no 304 hides the news
    for user_id in (2, 3):
        waiter = await status(room, tokens, 1, user_id)
        assert waiter["state"] == "sold_out"
        assert waiter["waitlist"]["join"] == {"method": "POST", "href": "/api/v1/events/1/waitlist"}
        assert waiter["ahead"] is None and waiter["estimated_wait_s"] is None
    shopper = await status(room, tokens, 1, 1)
    assert shopper["state"] == "admitted" and shopper["waitlist"] is None


def test_the_waitlist_offer_names_bookings_own_waitlist_routes():
    paths = load_service("bookings").openapi()["paths"]
    assert "post" in paths["/api/v1/events/{id}/waitlist"]
    assert "get" in paths["/api/v1/events/{id}/waitlist/me"]


async def test_a_room_that_closes_when_sold_out_offers_no_waitlist(room, tokens):
    await open_room(room, tokens, 1, when_sold_out="close")
    await report_inventory(room, 1, 1, sold_out=True)
    waiter = await status(room, tokens, 1, 1)
    assert (waiter["state"], waiter["waitlist"]) == ("sold_out", None)
    refused = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 9))
    assert (await refused.json())["code"] == "waiting_room_closed"


async def test_seats_coming_back_put_waiters_back_in_line_and_admission_resumes(room, tokens):
    await open_room(room, tokens, 2, admission_rate_per_minute=60)
    await report_inventory(room, 1, 1, sold_out=True)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 0
    await report_inventory(room, 1, 2, sold_out=False, available=3)  # holds expired
    waiter = await status(room, tokens, 1, 2)
    assert (waiter["state"], waiter["position"], waiter["waitlist"]) == ("waiting", 2, None)
    # Two seconds at one a second: both are admitted (credit banked while sold out).
    assert (await tick(room, 1, T0 + timedelta(seconds=2))).admitted == 2
    assert (await status(room, tokens, 1, 2))["state"] == "admitted"


async def test_active_shoppers_never_outnumber_the_seats_still_available(room, tokens):
    await open_room(room, tokens, 6, admission_rate_per_minute=6000, max_active_shoppers=100)
    await report_inventory(room, 1, 1, sold_out=False, available=2)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 2
    assert (await tick(room, 1, T0 + timedelta(seconds=2))).admitted == 0  # 2 shoppers, 2 seats
    await report_inventory(room, 1, 2, sold_out=False, available=5)  # seats came back
    assert (await tick(room, 1, T0 + timedelta(seconds=3))).admitted == 3


def test_shopper_slots_take_the_smaller_of_the_cap_and_the_seats_left():
    assert shopper_slots(max_active=10, active=3, available=None) == 7  # not reported yet
    assert shopper_slots(max_active=10, active=3, available=5) == 2
    assert shopper_slots(max_active=10, active=3, available=1) == 0  # never negative
    assert shopper_slots(max_active=4, active=3, available=50) == 1


def test_shoppers_who_have_not_held_yet_count_as_the_buyers_average_seats():
    # 10 seats left, buyers hold 2.5 on average: 4 buyers' worth; 3 have yet to hold.
    slots = shopper_slots(max_active=100, active=8, available=10, undecided=3,
                          seats_per_buyer=2.5)  # fmt: skip
    assert slots == 1
    # Those holding already have their seats out of `available`: only the undecided count.
    assert shopper_slots(max_active=100, active=8, available=10, undecided=0,
                         seats_per_buyer=2.5) == 4  # fmt: skip
    # No hold seen yet: one seat each, as before; never below one seat a buyer.
    assert shopper_slots(max_active=100, active=3, available=10, undecided=3) == 7
    assert shopper_slots(max_active=100, active=3, available=10, undecided=3,
                         seats_per_buyer=0.5) == 7  # fmt: skip


def test_the_last_seats_fewer_than_a_buyers_average_still_admit_one_more():
    assert shopper_slots(max_active=100, active=9, available=1, undecided=0,
                         seats_per_buyer=2.5) == 1  # fmt: skip
    assert shopper_slots(max_active=100, active=9, available=1, undecided=1,
                         seats_per_buyer=2.5) == 0  # fmt: skip


async def test_admission_leaves_the_seats_left_to_those_who_have_not_held_yet(room, tokens):
    await open_room(room, tokens, 20, admission_rate_per_minute=60)
    await report_inventory(room, 1, 1, sold_out=False, available=10)
    assert (await tick(room, 1, T0 + timedelta(seconds=2))).admitted == 2
    bookings = ScriptedBookings(event_id=1, capacity=10)
    messages = bookings.hold(3, user_id=1)[1] + bookings.hold(3, user_id=2)[1]
    await deliver(room, [m for m in messages if m["topic"] == "booking.changed"])
    await report_inventory(room, 1, 2, sold_out=False, available=6)
    # Buyers hold 3 seats each: the 6 left serve two more buyers, not four.
    assert (await tick(room, 1, T0 + timedelta(seconds=7))).admitted == 2
