"""Admission: at the configured rate, within the active-shopper cap, with signed tokens
bound to user and event; expired sessions free their slots; sold out admits nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evently.core.admission_tokens import InvalidAdmissionToken, verify_admission
from evently.waiting_room.ticker import admissions_due
from tests.waiting_room.conftest import (
    configure_room,
    join,
    report_inventory,
    status,
    tick,
    utc,
)

T0 = utc(2030, 1, 1, 12, 0, 0)


async def open_room_with_visitors(room, tokens, visitors: int, **settings) -> None:
    await configure_room(room, 1, **settings)
    await tick(room, 1, T0)  # opens: the (empty) pre-queue is shuffled, nobody admitted yet
    for user_id in range(1, visitors + 1):
        await join(room, tokens, 1, user_id)


async def test_admission_follows_the_rate_within_the_active_shopper_cap(room, tokens):
    await open_room_with_visitors(
        room, tokens, 5, admission_rate_per_minute=120, max_active_shoppers=3, session_ttl_s=60
    )
    ticks = [await tick(room, 1, T0 + timedelta(seconds=s)) for s in (1, 2, 3)]
    # 2 per second; the third second finds the 3 slots full.
    assert [t.admitted for t in ticks] == [2, 1, 0]
    assert ticks[-1].serving == 3
    assert [(await status(room, tokens, 1, u))["state"] for u in range(1, 6)] == [
        "admitted",
        "admitted",
        "admitted",
        "waiting",
        "waiting",
    ]


async def test_expired_sessions_free_their_slots_for_the_next_visitors(room, tokens):
    await open_room_with_visitors(
        room, tokens, 4, admission_rate_per_minute=120, max_active_shoppers=2, session_ttl_s=60
    )
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 2
    assert (await tick(room, 1, T0 + timedelta(seconds=30))).admitted == 0  # full
    later = await tick(room, 1, T0 + timedelta(seconds=61))
    assert (later.expired, later.admitted, later.serving) == (2, 2, 4)
    assert (await status(room, tokens, 1, 1))["state"] == "expired"


async def test_a_sold_out_event_admits_nobody(room, tokens):
    await open_room_with_visitors(room, tokens, 3, admission_rate_per_minute=600)
    await report_inventory(room, 1, 1, sold_out=True)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 0
    await report_inventory(room, 1, 2, sold_out=False)  # holds expired: seats came back
    assert (await tick(room, 1, T0 + timedelta(seconds=2))).admitted == 3


async def test_a_waiting_visitor_sees_position_ahead_and_estimated_wait(room, tokens):
    await open_room_with_visitors(room, tokens, 4, admission_rate_per_minute=60)
    await tick(room, 1, T0 + timedelta(seconds=1))  # admits position 1
    fourth = await status(room, tokens, 1, 4)
    assert (fourth["state"], fourth["position"], fourth["ahead"]) == ("waiting", 4, 2)
    assert fourth["estimated_wait_s"] == 2  # 2 ahead at 1 per second
    assert fourth["admission_token"] is None


async def test_an_admitted_visitor_gets_a_token_bound_to_user_and_event(room, tokens):
    await open_room_with_visitors(room, tokens, 1, session_ttl_s=300)
    await tick(room, 1, T0 + timedelta(seconds=1))
    admitted = await status(room, tokens, 1, 1)
    assert admitted["state"] == "admitted"
    jwks = await (await room.get("/.well-known/admission-keys.json")).json()
    keys = {k["kid"]: _public_key(k) for k in jwks["keys"]}
    proof = verify_admission(keys, admitted["admission_token"], now=T0 + timedelta(seconds=2))
    assert (proof.user_id, proof.event_id) == (1, 1)
    assert proof.expires_at == int((T0 + timedelta(seconds=301)).timestamp())
    with pytest.raises(InvalidAdmissionToken):
        verify_admission(keys, admitted["admission_token"], now=T0 + timedelta(seconds=302))
    with pytest.raises(InvalidAdmissionToken):
        verify_admission(keys, admitted["admission_token"][:-4] + "AAAA", now=T0)


def test_admissions_never_exceed_the_free_slots_or_the_waiting_visitors():
    due = admissions_due(
        credit=0.0, elapsed_s=10, rate_per_minute=6000, free_slots=7, waiting=100, sold_out=False
    )
    assert due.count == 7
    due = admissions_due(
        credit=0.0, elapsed_s=10, rate_per_minute=6000, free_slots=70, waiting=3, sold_out=False
    )
    assert due.count == 3


def test_an_idle_room_banks_at_most_five_seconds_of_admissions():
    due = admissions_due(
        credit=0.0,
        elapsed_s=3600,
        rate_per_minute=60,
        free_slots=1000,
        waiting=1000,
        sold_out=False,
    )
    assert due.count == 5


def _public_key(jwk: dict):
    import jwt

    return jwt.algorithms.OKPAlgorithm.from_jwk(jwk)
