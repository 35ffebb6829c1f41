"""The organiser's per-address hold limit: throwaway accounts from one address cannot
hold a whole event (issue 12, hoarding)."""

from __future__ import annotations

import asyncio
import uuid

from tests.bookings.conftest import Buyer, send_event


async def hold_from(buyer: Buyer, address: str, quantity: int) -> tuple[int, dict]:
    # The test client is 127.0.0.1, a trusted proxy, so X-Forwarded-For names the client.
    response = await buyer.client.post(
        "/api/v1/bookings",
        json={"event_id": 1, "quantity": quantity},
        headers={
            **buyer.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "X-Forwarded-For": address,
        },
    )
    return response.status, await response.json()


async def test_seats_on_hold_from_one_address_are_limited_across_accounts(client, buyer):
    await send_event(client, 1, capacity=50, max_per_address=3)
    assert (await hold_from(buyer(1), "198.51.100.7", 2))[0] == 201
    status, problem = await hold_from(buyer(2), "198.51.100.7", 2)
    assert status == 409, problem
    assert problem["code"] == "per_address_limit_exceeded"
    assert (problem["max_per_address"], problem["already_held"]) == (3, 2)
    assert (await hold_from(buyer(2), "198.51.100.7", 1))[0] == 201
    assert (await hold_from(buyer(3), "198.51.100.8", 3))[0] == 201


async def test_a_concurrent_burst_from_one_address_gets_exactly_the_limit(client, buyer):
    await send_event(client, 1, capacity=100, max_per_address=5)
    results = await asyncio.gather(
        *(hold_from(buyer(user), "203.0.113.9", 1) for user in range(1, 21))
    )
    assert sorted(status for status, _ in results) == [201] * 5 + [409] * 15


async def test_seats_given_back_count_no_more(client, buyer):
    await send_event(client, 1, capacity=50, max_per_address=2)
    status, booking = await hold_from(buyer(1), "198.51.100.7", 2)
    assert status == 201
    assert (await hold_from(buyer(2), "198.51.100.7", 1))[0] == 409
    await buyer(1).cancel(booking["id"])
    assert (await hold_from(buyer(2), "198.51.100.7", 2))[0] == 201


async def test_without_a_limit_one_address_may_hold_any_number(client, buyer):
    await send_event(client, 1, capacity=50)
    for user in range(1, 6):
        assert (await hold_from(buyer(user), "198.51.100.7", 4))[0] == 201


async def test_ipv6_addresses_count_by_their_64(client, buyer):
    await send_event(client, 1, capacity=50, max_per_address=2)
    assert (await hold_from(buyer(1), "2001:db8:1:2::a", 2))[0] == 201
    assert (await hold_from(buyer(2), "2001:db8:1:2::b", 1))[0] == 409
    assert (await hold_from(buyer(3), "2001:db8:1:3::a", 1))[0] == 201
