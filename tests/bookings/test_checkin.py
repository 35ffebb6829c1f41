"""Check-in (docs/checkin.md): staff scan ticket codes at the gates of an event; the
first scan of a ticket admits, every other scan says when and where that was, and of
concurrent scans on any number of replicas exactly one admits."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from evently.bookings import checkin_list, ticket_codes
from evently.bookings.context import BOOKINGS
from evently.bookings.ticket_codes import TicketClaims
from evently.bookings.ticket_keys import TICKET_KEYS
from evently.core import contracts
from tests.bookings.conftest import Buyer, send_event
from tests.support.tokens import ADMIN_PERMISSIONS, TokenMinter

EVENT, OTHER_EVENT = 1, 2
STAFF_ID = 500


def staff_headers(tokens: TokenMinter, user_id: int = STAFF_ID) -> dict[str, str]:
    """A non-admin account an admin granted checkin:scan."""
    return {"Authorization": f"Bearer {tokens.token(user_id, perms=('checkin:scan',))}"}


async def scan(
    client: TestClient, headers: dict[str, str], code: str, gate: str = "north-1", event=EVENT
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/v1/events/{event}/checkin/scans", json={"code": code, "gate": gate}, headers=headers
    )
    return response.status, await response.json()


async def ticket_codes_of(buyer: Buyer, event_id: int, quantity: int) -> list[str]:
    """The codes of a freshly confirmed booking of ``quantity`` seats."""
    status, booking = await buyer.hold(event_id, quantity)
    assert status == 201, booking
    assert (await buyer.confirm(booking["id"]))[0] == 200
    status, body = await buyer.get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200, body
    return [t["code"] for t in body["tickets"]]


async def check_in_state(db, code: str) -> tuple[Any, ...]:
    row = await db.fetchrow(
        "SELECT checked_in_at, checked_in_gate, checked_in_by FROM bookings.tickets "
        "WHERE code = $1",
        code,
    )
    return tuple(row)


@pytest.fixture
async def on_sale(client):
    await send_event(client, EVENT)
    await send_event(client, OTHER_EVENT)


async def test_the_first_scan_is_valid_and_a_rescan_says_when_and_where(
    client, buyer, tokens, db, on_sale
):
    code, other_seat = await ticket_codes_of(buyer(7), EVENT, 2)
    staff = staff_headers(tokens)

    status, first = await scan(client, staff, code, gate="north-1")
    assert status == 200, first
    assert first["result"] == "valid"
    assert first["ticket"]["event_id"] == EVENT and first["ticket"]["seat"] == 1
    assert first["checked_in_gate"] == "north-1" and first["checked_in_at"]
    checked_in_at, gate, by = await check_in_state(db, code)
    assert (gate, by) == ("north-1", STAFF_ID)

    for again_at in ("north-1", "south-3"):
        status, again = await scan(client, staff, code, gate=again_at)
        assert status == 200
        assert again["result"] == "already_checked_in"
        # When and where the FIRST scan was, not this one.
        assert (again["checked_in_gate"], again["checked_in_at"]) == (
            "north-1",
            first["checked_in_at"],
        )
    assert await check_in_state(db, code) == (checked_in_at, "north-1", STAFF_ID)
    # The booking's other seat is a ticket of its own.
    assert (await scan(client, staff, other_seat))[1]["result"] == "valid"


async def test_a_cancelled_bookings_ticket_is_void_and_is_not_checked_in(
    client, buyer, tokens, db, on_sale
):
    status, booking = await buyer(7).hold(EVENT, 1)
    assert (await buyer(7).confirm(booking["id"]))[0] == 200
    _, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    code = body["tickets"][0]["code"]
    assert (await buyer(7).cancel(booking["id"]))[0] == 200

    status, answer = await scan(client, staff_headers(tokens), code)
    assert (status, answer["result"]) == (200, "void")
    assert answer["voided_at"] and answer["checked_in_at"] is None
    assert await check_in_state(db, code) == (None, None, None)


async def test_a_ticket_for_another_event_is_refused_at_this_events_gate(
    client, buyer, tokens, db, on_sale
):
    (code,) = await ticket_codes_of(buyer(7), OTHER_EVENT, 1)
    status, answer = await scan(client, staff_headers(tokens), code, event=EVENT)
    assert (status, answer["result"]) == (200, "not_for_this_event")
    assert answer["event_id"] == EVENT and answer["ticket"]["event_id"] == OTHER_EVENT
    assert await check_in_state(db, code) == (None, None, None)
    # At its own event's gate it is valid.
    assert (await scan(client, staff_headers(tokens), code, event=OTHER_EVENT))[1][
        "result"
    ] == "valid"


async def test_tampered_forged_unissued_and_malformed_codes_are_invalid(
    client, buyer, tokens, db, on_sale
):
    (code,) = await ticket_codes_of(buyer(7), EVENT, 1)
    head, payload, signature = code.rsplit(".", 2)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    # A real key's signature over a booking that never existed: never issued.
    never_issued = ticket_codes.sign(TicketClaims(EVENT, 999, 1), client.app[TICKET_KEYS].active)
    staff = staff_headers(tokens)
    for bad in (f"{head}.{payload}.{flipped}", never_issued, "ET1.k.a", "hello"):
        status, answer = await scan(client, staff, bad)
        assert (status, answer["result"]) == (200, "invalid"), bad
        assert answer["detail"].startswith("Not a valid ticket")
        assert answer["checked_in_at"] is None
    assert (
        await db.fetchval("SELECT count(*) FROM bookings.tickets WHERE checked_in_at IS NOT NULL")
        == 0
    )
    # The genuine code still checks in.
    assert (await scan(client, staff, code))[1]["result"] == "valid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gate": "north-1"}, "body.code"),
        ({"code": "x"}, "body.gate"),
        ({"code": "x", "gate": ""}, "body.gate"),
        ({"code": "x", "gate": "g" * 65}, "body.gate"),
        ({"code": "x", "gate": "tab\there"}, "body.gate"),
        ({"code": "x", "gate": "g", "extra": 1}, "body.extra"),
    ],
)
async def test_a_malformed_scan_request_is_400_naming_the_field(client, tokens, body, field):
    response = await client.post(
        f"/api/v1/events/{EVENT}/checkin/scans", json=body, headers=staff_headers(tokens)
    )
    assert response.status == 400
    assert field in [e["field"] for e in (await response.json())["errors"]]


async def test_only_staff_and_admins_granted_checkin_scan_may_scan(
    client, buyer, tokens, db, on_sale
):
    (code,) = await ticket_codes_of(buyer(7), EVENT, 1)
    admin_without = tokens.token(1, roles=("admin",), perms=ADMIN_PERMISSIONS)
    refused = {
        "customer": tokens.customer(7),
        "admin without checkin:scan": {"Authorization": f"Bearer {admin_without}"},
    }
    for who, headers in refused.items():
        status, answer = await scan(client, headers, code)
        assert (status, answer["code"]) == (403, "permission_required"), who
    status, answer = await scan(client, {}, code)
    assert status == 401
    assert await check_in_state(db, code) == (None, None, None)

    admin = tokens.token(2, roles=("admin",), perms=(*ADMIN_PERMISSIONS, "checkin:scan"))
    status, answer = await scan(client, {"Authorization": f"Bearer {admin}"}, code)
    assert (status, answer["result"]) == (200, "valid")
    status, answer = await scan(client, staff_headers(tokens), code)
    assert (status, answer["result"]) == (200, "already_checked_in")


async def test_twenty_concurrent_scans_on_two_replicas_admit_exactly_once(
    client, aiohttp_client, bookings_app, buyer, tokens, db, on_sale
):
    # A second replica: its own app and connection pool on the same database.
    replica = await aiohttp_client(bookings_app())
    codes = await ticket_codes_of(buyer(7), EVENT, 3)
    for code in codes:
        answers = await asyncio.gather(
            *(
                scan((client, replica)[i % 2], staff_headers(tokens, 600 + i), code, f"gate-{i}")
                for i in range(20)
            )
        )
        assert {status for status, _ in answers} == {200}
        valid = [a for _, a in answers if a["result"] == "valid"]
        assert len(valid) == 1
        rest = [a for _, a in answers if a["result"] != "valid"]
        assert {a["result"] for a in rest} == {"already_checked_in"}
        first = (valid[0]["checked_in_at"], valid[0]["checked_in_gate"])
        assert {(a["checked_in_at"], a["checked_in_gate"]) for a in rest} == {first}
        _, gate, by = await check_in_state(db, code)
        assert gate == first[1] and by == 600 + int(gate.removeprefix("gate-"))


def scans_counted(result: str) -> float:
    return REGISTRY.get_sample_value("evently_checkin_scans_total", {"result": result}) or 0.0


async def test_scans_are_counted_by_result(client, buyer, tokens, on_sale):
    (code,) = await ticket_codes_of(buyer(7), EVENT, 1)
    before = {r: scans_counted(r) for r in ("valid", "already_checked_in", "invalid")}
    staff = staff_headers(tokens)
    await scan(client, staff, code)
    await scan(client, staff, code)
    await scan(client, staff, code)
    await scan(client, staff, "nonsense")
    assert scans_counted("valid") - before["valid"] == 1
    assert scans_counted("already_checked_in") - before["already_checked_in"] == 2
    assert scans_counted("invalid") - before["invalid"] == 1


# ---------------------------------------------------------------- the offline list


async def download_list(client: TestClient, headers: dict[str, str], event_id: int = EVENT):
    response = await client.get(f"/api/v1/events/{event_id}/checkin/list", headers=headers)
    return response, await response.json()


async def test_the_offline_list_holds_every_ticket_of_the_event_and_verifies_offline(
    client, buyer, tokens, on_sale
):
    admitted, waiting = await ticket_codes_of(buyer(7), EVENT, 2)
    status, cancelled = await buyer(8).hold(EVENT, 1)
    assert status == 201, cancelled
    assert (await buyer(8).confirm(cancelled["id"]))[0] == 200
    _, cancelled_tickets = await buyer(8).get(f"/api/v1/bookings/{cancelled['id']}/tickets")
    assert (await buyer(8).cancel(cancelled["id"]))[0] == 200
    (elsewhere,) = await ticket_codes_of(buyer(9), OTHER_EVENT, 1)
    staff = staff_headers(tokens)
    _, first = await scan(client, staff, admitted, gate="east")

    response, body = await download_list(client, staff)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    # The gate trusts only the published public keys.
    keys_response = await client.get("/.well-known/ticket-keys.json")
    keys = ticket_codes.public_keys_from_jwks(await keys_response.json())
    document = checkin_list.verify_checkin_list(body, keys)
    assert document["event_id"] == EVENT and document["format"] == "evently-checkin-list/1"
    by_code = {t["code"]: t for t in document["tickets"]}
    assert set(by_code) == {admitted, waiting, cancelled_tickets["tickets"][0]["code"]}
    assert elsewhere not in by_code
    assert (by_code[admitted]["checked_in_at"], by_code[admitted]["checked_in_gate"]) == (
        first["checked_in_at"],
        "east",
    )
    assert (by_code[waiting]["status"], by_code[waiting]["checked_in_at"]) == ("valid", None)
    assert by_code[cancelled_tickets["tickets"][0]["code"]]["status"] == "void"

    # Checked by hand as a gate in another language would: Ed25519 over the JCS bytes.
    signature = body["signature"]
    assert signature["alg"] == "EdDSA" and signature["kid"] in keys
    canonical = json.dumps(
        body["list"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    raw = base64.urlsafe_b64decode(signature["value"] + "=" * (-len(signature["value"]) % 4))
    keys[signature["kid"]].verify(raw, canonical)


@pytest.mark.parametrize(
    "tamper",
    [
        "void a ticket",
        "uncheck a ticket",
        "add a ticket",
        "change the event",
        "another kid",
        "flip the signature",
    ],
)
async def test_a_tampered_offline_list_fails_verification(client, buyer, tokens, on_sale, tamper):
    admitted, _ = await ticket_codes_of(buyer(7), EVENT, 2)
    await scan(client, staff_headers(tokens), admitted)
    _, body = await download_list(client, staff_headers(tokens))
    keys = ticket_codes.public_keys_from_jwks(client.app[TICKET_KEYS].jwks())
    checkin_list.verify_checkin_list(body, keys)
    tickets = body["list"]["tickets"]
    if tamper == "void a ticket":
        tickets[1]["status"] = "void"
    elif tamper == "uncheck a ticket":
        tickets[0]["checked_in_at"] = tickets[0]["checked_in_gate"] = None
    elif tamper == "add a ticket":
        tickets.append({**tickets[1], "seat": 3})
    elif tamper == "change the event":
        body["list"]["event_id"] = OTHER_EVENT
    elif tamper == "another kid":
        body["signature"]["kid"] = "forged-kid"
    else:
        value = body["signature"]["value"]
        body["signature"]["value"] = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    with pytest.raises(checkin_list.CheckinListError):
        checkin_list.verify_checkin_list(body, keys)


async def test_only_checkin_staff_may_download_the_offline_list(client, tokens, on_sale):
    response, body = await download_list(client, tokens.customer(7))
    assert (response.status, body["code"]) == (403, "permission_required")
    response, _ = await download_list(client, {})
    assert response.status == 401
    response, body = await download_list(client, staff_headers(tokens), event_id=77)
    assert response.status == 200 and body["list"]["tickets"] == []


# ---------------------------------------------------------------- analytics


async def test_only_a_first_valid_scan_sends_ticket_checked_in_to_analytics(
    client, buyer, tokens, outbox, on_sale
):
    admitted, other = await ticket_codes_of(buyer(7), EVENT, 2)
    staff = staff_headers(tokens)
    _, first = await scan(client, staff, admitted, gate="west")
    await scan(client, staff, admitted, gate="east")  # already checked in
    await scan(client, staff, other, event=OTHER_EVENT)  # not for that event
    await scan(client, staff, "nonsense")

    written = await outbox.messages("analytics", "ticket.checked_in")
    assert len(written) == 1
    (message,) = written
    ticket_id = await outbox_ticket_id(client, admitted)
    assert (message.key, message.version) == (str(ticket_id), 1)
    assert message.payload == {
        "schema_version": contracts.TicketCheckedIn.VERSION,
        "ticket_id": ticket_id,
        "event_id": EVENT,
        "booking_id": first["ticket"]["booking_id"],
        "seat": 1,
        "gate": "west",
        "checked_in_at": first["checked_in_at"],
    }
    for consumer in ("search", "events"):
        assert not [m for m in outbox.received[consumer] if m.topic == "ticket.checked_in"]


async def outbox_ticket_id(client: TestClient, code: str) -> int:
    return await client.app[BOOKINGS].pool.fetchval(
        "SELECT id FROM bookings.tickets WHERE code = $1", code
    )


# ---------------------------------------------------------------- cancelling a used ticket


async def test_a_booking_whose_ticket_was_checked_in_cannot_be_cancelled(
    client, buyer, tokens, db, on_sale
):
    status, booking = await buyer(7).hold(EVENT, 2)
    assert (await buyer(7).confirm(booking["id"]))[0] == 200
    _, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert (await scan(client, staff_headers(tokens), body["tickets"][0]["code"]))[1][
        "result"
    ] == "valid"

    status, refusal = await buyer(7).cancel(booking["id"])
    assert (status, refusal["code"]) == (409, "booking_checked_in")
    assert refusal["booking"]["status"] == "confirmed"
    # Nothing changed: still confirmed, both tickets valid, no seat released.
    _, after = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert after["booking_status"] == "confirmed"
    assert {t["status"] for t in after["tickets"]} == {"valid"}
    assert await db.fetchval("SELECT bookings.sold_seats($1)", EVENT) == 2


async def test_a_scan_racing_a_cancel_either_admits_or_voids_never_both(
    client, buyer, tokens, db, on_sale
):
    staff = staff_headers(tokens)
    races = []
    for user in range(20, 32):
        _, booking = await buyer(user).hold(EVENT, 1)
        assert (await buyer(user).confirm(booking["id"]))[0] == 200
        _, body = await buyer(user).get(f"/api/v1/bookings/{booking['id']}/tickets")
        races.append((user, booking["id"], body["tickets"][0]["code"]))

    async def race(user: int, booking_id: int, code: str, scan_first: bool):
        cancelling = buyer(user).cancel(booking_id)
        scanning = scan(client, staff, code)
        if scan_first:
            (_, answer), (status, _) = await asyncio.gather(scanning, cancelling)
        else:
            (status, _), (_, answer) = await asyncio.gather(cancelling, scanning)
        return status, answer["result"]

    outcomes = await asyncio.gather(
        *(race(u, b, c, i % 2 == 0) for i, (u, b, c) in enumerate(races))
    )
    assert set(outcomes) <= {(200, "void"), (409, "valid")}
    # In the tables: no cancelled booking with a checked-in ticket, no voided admission.
    assert (
        await db.fetchval(
            """SELECT count(*) FROM bookings.tickets t JOIN bookings.bookings b
               ON b.id = t.booking_id
               WHERE t.checked_in_at IS NOT NULL
                 AND (b.status = 'cancelled' OR t.status = 'void')"""
        )
        == 0
    )


async def test_the_offline_list_includes_tickets_still_queued_for_issuing(
    aiohttp_client, bookings_app, tokens
):
    # The deferred issuer would wait an hour: only the list can have issued these.
    client = await aiohttp_client(
        bookings_app({"TICKET_ISSUE_QUIET_S": "3600", "TICKET_ISSUE_MAX_DELAY_S": "3600"})
    )
    await send_event(client, EVENT)
    customer = Buyer(client, tokens, 7)
    status, booking = await customer.hold(EVENT, 2)
    assert status == 201, booking
    assert (await customer.confirm(booking["id"]))[0] == 200
    assert client.app[BOOKINGS].tickets.waiting == 1

    response, body = await download_list(client, staff_headers(tokens))
    assert response.status == 200
    keys = ticket_codes.public_keys_from_jwks(client.app[TICKET_KEYS].jwks())
    listed = checkin_list.verify_checkin_list(body, keys)["tickets"]
    assert [(t["booking_id"], t["seat"], t["status"]) for t in listed] == [
        (booking["id"], 1, "valid"),
        (booking["id"], 2, "valid"),
    ]
    # Scanning a listed code admits: the gate and the server agree.
    assert (await scan(client, staff_headers(tokens), listed[0]["code"]))[1]["result"] == "valid"
