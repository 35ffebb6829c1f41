"""The pre-queue shuffle is verifiable: the published seed reproduces the stored order."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from evently.core.db import POOL
from tests.waiting_room.conftest import configure_room, join, status, tick


def order_by_documented_algorithm(seed: bytes, ticket_ids: list[int]) -> list[int]:
    """docs/waiting-room.md, written out again here: sort by HMAC-SHA256(seed, id)."""
    return sorted(
        ticket_ids,
        key=lambda t: (hmac.new(seed, str(t).encode(), hashlib.sha256).digest(), t),
    )


async def test_the_published_seed_reproduces_the_prequeue_order(room, tokens):
    opens = datetime.now(UTC) + timedelta(hours=1)
    await configure_room(room, 1, sale_opens_at=opens)
    users = list(range(100, 130))
    tickets = {u: (await join(room, tokens, 1, u))["ticket_id"] for u in users}

    before = await (await room.get("/api/v1/events/1/waiting-room")).json()
    assert before["state"] == "prequeue"
    assert before["seed"] is None and len(before["seed_commitment"]) == 64

    assert (await tick(room, 1, opens - timedelta(seconds=1))).shuffled == 0  # not yet
    assert (await tick(room, 1, opens)).shuffled == len(users)

    after = await (await room.get("/api/v1/events/1/waiting-room")).json()
    seed = bytes.fromhex(after["seed"])
    assert hashlib.sha256(seed).hexdigest() == before["seed_commitment"]
    assert after["prequeued"] == len(users) and after["state"] == "open"

    positions = {u: (await status(room, tokens, 1, u))["position"] for u in users}
    by_position = sorted(users, key=positions.__getitem__)
    assert sorted(positions.values()) == list(range(1, len(users) + 1))
    assert [tickets[u] for u in by_position] == order_by_documented_algorithm(
        seed, list(tickets.values())
    )
    # Not the join order: a shuffle of 30 that changes nothing is a 1 in 30! accident.
    assert by_position != users


async def test_a_visitor_joining_after_the_shuffle_queues_behind_the_prequeue(room, tokens):
    opens = datetime.now(UTC) + timedelta(hours=1)
    await configure_room(room, 1, sale_opens_at=opens)
    for u in (1, 2, 3):
        await join(room, tokens, 1, u)
    await tick(room, 1, opens)
    late = await join(room, tokens, 1, 4)
    assert late["position"] == 4 and late["state"] == "waiting"


async def test_the_shuffle_happens_once(room, tokens):
    opens = datetime.now(UTC) + timedelta(hours=1)
    await configure_room(room, 1, sale_opens_at=opens)
    for u in (1, 2, 3):
        await join(room, tokens, 1, u)
    await tick(room, 1, opens)
    stored = await room.app[POOL].fetch("SELECT id, position FROM waiting_room.tickets ORDER BY id")
    assert (await tick(room, 1, opens + timedelta(seconds=1))).shuffled == 0
    assert (
        await room.app[POOL].fetch("SELECT id, position FROM waiting_room.tickets ORDER BY id")
        == stored
    )
