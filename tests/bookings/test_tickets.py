"""Tickets (docs/tickets.md): one signed ticket per seat of a confirmed booking, issued
after the confirmation commits, verifiable offline against the published ticket keys,
voided when the booking is cancelled."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evently.bookings import ticket_codes
from evently.bookings.context import BOOKINGS
from evently.bookings.ticket_codes import TicketClaims, TicketCodeError
from evently.core.signing_keys import SigningKey, generate_signing_keys_json, private_key_pem
from tests.bookings.conftest import Buyer, eventually, send_event

EVENT = 1


async def published_keys(client: TestClient) -> dict[str, Any]:
    """The ticket key set a scanner downloads: public keys only."""
    response = await client.get("/.well-known/ticket-keys.json")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "max-age=60"
    return await response.json()


async def confirmed_booking(client: TestClient, buyer: Buyer, quantity: int) -> dict[str, Any]:
    status, booking = await buyer.hold(EVENT, quantity)
    assert status == 201, booking
    status, confirmed = await buyer.confirm(booking["id"])
    assert status == 200, confirmed
    return confirmed


async def ticket_rows(db, booking_id: int) -> list[Any]:
    return await db.fetch(
        "SELECT seat, code, status FROM bookings.tickets WHERE booking_id = $1 ORDER BY seat",
        booking_id,
    )


@pytest.fixture
async def on_sale(client):
    await send_event(client, EVENT)


async def test_a_confirmed_booking_has_one_ticket_per_seat_that_verifies_offline(
    client, buyer, on_sale
):
    booking = await confirmed_booking(client, buyer(7), 3)
    status, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200, body
    assert body["booking_id"] == booking["id"] and body["booking_status"] == "confirmed"
    assert [t["seat"] for t in body["tickets"]] == [1, 2, 3]
    assert {t["status"] for t in body["tickets"]} == {"valid"}

    # The scanner holds only the published public keys: no private key is involved.
    jwks = await published_keys(client)
    assert all("d" not in jwk for jwk in jwks["keys"])
    assert {(k["kty"], k["crv"], k["alg"], k["use"]) for k in jwks["keys"]} == {
        ("OKP", "Ed25519", "EdDSA", "sig")
    }
    keys = ticket_codes.public_keys_from_jwks(jwks)
    for ticket in body["tickets"]:
        assert ticket_codes.verify(ticket["code"], keys) == TicketClaims(
            EVENT, booking["id"], ticket["seat"]
        )
        seat_url = f"/api/v1/bookings/{booking['id']}/tickets/{ticket['seat']}"
        assert (ticket["qr_svg_url"], ticket["qr_png_url"]) == (
            f"{seat_url}.svg",
            f"{seat_url}.png",
        )


def _resign_payload(code: str, payload: dict[str, int]) -> str:
    head, _, signature = code.rsplit(".", 2)
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


async def test_a_tampered_code_an_unknown_kid_and_a_malformed_code_fail_verification(
    client, buyer, on_sale
):
    booking = await confirmed_booking(client, buyer(7), 1)
    _, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    code = body["tickets"][0]["code"]
    keys = ticket_codes.public_keys_from_jwks(await published_keys(client))
    ticket_codes.verify(code, keys)

    # Another seat claimed with the original signature.
    tampered = _resign_payload(code, {"e": EVENT, "b": booking["id"], "s": 2})
    with pytest.raises(TicketCodeError, match="signature"):
        ticket_codes.verify(tampered, keys)
    # A flipped signature character.
    flipped = code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]
    with pytest.raises(TicketCodeError):
        ticket_codes.verify(flipped, keys)
    # A well-formed code from a key the set does not hold: signed by a forger.
    forger = SigningKey("forged-kid", Ed25519PrivateKey.generate())
    forged = ticket_codes.sign(TicketClaims(EVENT, booking["id"], 1), forger)
    with pytest.raises(TicketCodeError, match="unknown ticket key id 'forged-kid'"):
        ticket_codes.verify(forged, keys)
    # The forger reusing the real kid fails on the signature.
    kid = next(iter(keys))
    with pytest.raises(TicketCodeError, match="signature"):
        impostor = SigningKey(kid, forger.private_key)
        ticket_codes.verify(ticket_codes.sign(TicketClaims(EVENT, 1, 1), impostor), keys)
    for malformed in ("", "ET1", "ET2.k.a.b", "ET1.k.a", "ET1.k.!!.??", "ET1.é.a.b"):
        with pytest.raises(TicketCodeError, match="malformed"):
            ticket_codes.verify(malformed, keys)


async def test_tickets_are_issued_after_confirm_without_anyone_asking(client, buyer, db, on_sale):
    booking = await confirmed_booking(client, buyer(7), 2)

    async def issued() -> bool:
        return len(await ticket_rows(db, booking["id"])) == 2

    await eventually(issued)
    keys = ticket_codes.public_keys_from_jwks(await published_keys(client))
    for row in await ticket_rows(db, booking["id"]):
        assert row["status"] == "valid"
        assert ticket_codes.verify(row["code"], keys).seat == row["seat"]


async def test_concurrent_reads_issue_exactly_one_ticket_per_seat(client, buyer, db, on_sale):
    booking = await confirmed_booking(client, buyer(7), 4)
    await eventually(lambda: _count(db, booking["id"], 4))
    # As if the process had crashed between the commit and the background issuance.
    await db.execute("DELETE FROM bookings.tickets WHERE booking_id = $1", booking["id"])

    answers = await asyncio.gather(
        *(buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets") for _ in range(12))
    )
    assert {status for status, _ in answers} == {200}
    codes = {tuple(t["code"] for t in body["tickets"]) for _, body in answers}
    assert len(codes) == 1 and len(next(iter(codes))) == 4
    assert [r["seat"] for r in await ticket_rows(db, booking["id"])] == [1, 2, 3, 4]


async def _count(db, booking_id: int, expected: int) -> bool:
    return len(await ticket_rows(db, booking_id)) == expected


async def test_cancelling_a_booking_voids_its_tickets(client, buyer, db, on_sale):
    booking = await confirmed_booking(client, buyer(7), 2)
    _, before = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert {t["status"] for t in before["tickets"]} == {"valid"}

    status, _ = await buyer(7).cancel(booking["id"])
    assert status == 200
    status, after = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200 and after["booking_status"] == "cancelled"
    assert [(t["seat"], t["status"]) for t in after["tickets"]] == [(1, "void"), (2, "void")]
    assert all(t["voided_at"] for t in after["tickets"])
    # The codes stay what they were (a scanner's offline check passes), so the void
    # status is what check-in must consult; the images are gone.
    assert [t["code"] for t in after["tickets"]] == [t["code"] for t in before["tickets"]]
    response = await client.get(after["tickets"][0]["qr_png_url"], headers=buyer(7).headers)
    assert response.status == 404
    assert (await response.json())["code"] == "ticket_not_found"


async def test_a_cancel_racing_issuance_never_leaves_a_valid_ticket_on_a_cancelled_booking(
    client, buyer, db, on_sale
):
    issuer = client.app[BOOKINGS].tickets
    bookings = [await confirmed_booking(client, buyer(100 + i), 2) for i in range(8)]
    # Drop what the background issued, so each round races a real insert with the cancel.
    await asyncio.sleep(0)
    for booking in bookings:
        await eventually(lambda b=booking: _count(db, b["id"], 2))
    await db.execute("DELETE FROM bookings.tickets")
    rows = {r["id"]: r for r in await db.fetch("SELECT * FROM bookings.bookings")}

    async def issue_after(delay_s: float, row: Any) -> None:
        await asyncio.sleep(delay_s)
        await issuer.issue(row)

    async def race(booking: dict[str, Any], start_s: float) -> None:
        # The first issuer starts from before the cancel to (for the later bookings)
        # after it commits; the last one always comes after it.
        row = rows[booking["id"]]
        cancelled, *_ = await asyncio.gather(
            buyer(row["user_id"]).cancel(booking["id"]),
            *(issue_after(start_s + d, row) for d in (0, 0.002, 0.005)),
            issue_after(0.3, row),
        )
        assert cancelled[0] == 200

    await asyncio.gather(*(race(b, 0.01 * i) for i, b in enumerate(bookings)))
    # The plainest interleaving: a booking cancelled before any issuance never gets one.
    late = await confirmed_booking(client, buyer(200), 2)
    await eventually(lambda: _count(db, late["id"], 2))
    await db.execute("DELETE FROM bookings.tickets WHERE booking_id = $1", late["id"])
    assert (await buyer(200).cancel(late["id"]))[0] == 200
    late_row = await db.fetchrow("SELECT * FROM bookings.bookings WHERE id = $1", late["id"])
    assert await issuer.issue(late_row) == []
    left = await db.fetch(
        """SELECT t.booking_id, t.status FROM bookings.tickets t
           JOIN bookings.bookings b ON b.id = t.booking_id
           WHERE b.status = 'cancelled' AND t.status = 'valid'"""
    )
    assert left == []
    assert (
        await db.fetchval("SELECT count(*) FROM bookings.bookings WHERE status <> 'cancelled'") == 0
    )


async def test_another_users_booking_is_not_found_but_an_admin_sees_it(
    client, buyer, tokens, on_sale
):
    booking = await confirmed_booking(client, buyer(7), 1)
    path = f"/api/v1/bookings/{booking['id']}/tickets"
    status, body = await buyer(8).get(path)
    assert (status, body["code"]) == (404, "booking_not_found")
    response = await client.get(f"{path}/1.png", headers=buyer(8).headers)
    assert response.status == 404
    response = await client.get(path, headers=tokens.admin())
    assert response.status == 200
    assert len((await response.json())["tickets"]) == 1


async def test_a_held_booking_has_no_tickets_yet(client, buyer, db, on_sale):
    status, booking = await buyer(7).hold(EVENT, 2)
    assert status == 201
    status, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert (status, body["code"]) == (409, "booking_not_confirmed")
    assert body["booking"]["status"] == "held"
    response = await client.get(
        f"/api/v1/bookings/{booking['id']}/tickets/1.svg", headers=buyer(7).headers
    )
    assert response.status == 409
    assert await ticket_rows(db, booking["id"]) == []


async def test_qr_images_are_png_and_svg_and_missing_seats_are_not_found(client, buyer, on_sale):
    booking = await confirmed_booking(client, buyer(7), 2)
    _, body = await buyer(7).get(f"/api/v1/bookings/{booking['id']}/tickets")
    headers = buyer(7).headers

    png = await client.get(body["tickets"][1]["qr_png_url"], headers=headers)
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG\r\n\x1a\n")
    svg = await client.get(body["tickets"][0]["qr_svg_url"], headers=headers)
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert b"<svg" in await svg.read()

    for seat in (3, 99):
        for kind in ("svg", "png"):
            response = await client.get(
                f"/api/v1/bookings/{booking['id']}/tickets/{seat}.{kind}", headers=headers
            )
            assert response.status == 404, (seat, kind)
            assert (await response.json())["code"] == "ticket_not_found"
    # Without a token there is no image at all.
    assert (await client.get(body["tickets"][0]["qr_png_url"])).status == 401


async def test_with_two_keys_codes_carry_the_active_kid_and_both_keys_are_published(
    aiohttp_client, bookings_app, tokens
):
    old, new = (SigningKey(kid, Ed25519PrivateKey.generate()) for kid in ("tk-old", "tk-new"))
    keys_json = json.dumps({k.kid: private_key_pem(k.private_key) for k in (old, new)})
    client = await aiohttp_client(
        bookings_app({"TICKET_SIGNING_KEYS": keys_json, "TICKET_ACTIVE_KID": "tk-new"})
    )
    await send_event(client, EVENT)
    buyer = Buyer(client, tokens, 7)
    booking = await confirmed_booking(client, buyer, 2)
    _, body = await buyer.get(f"/api/v1/bookings/{booking['id']}/tickets")

    jwks = await published_keys(client)
    assert [k["kid"] for k in jwks["keys"]] == ["tk-new", "tk-old"]
    keys = ticket_codes.public_keys_from_jwks(jwks)
    for ticket in body["tickets"]:
        assert ticket["code"].startswith("ET1.tk-new.")
        ticket_codes.verify(ticket["code"], keys)
    # A code the old key signed (before the rotation) still verifies against the set.
    ticket_codes.verify(ticket_codes.sign(TicketClaims(EVENT, booking["id"], 1), old), keys)


def test_the_bookings_service_refuses_to_start_without_ticket_keys(make_app):
    from evently.core.settings import SettingsError

    with pytest.raises(SettingsError, match="exactly one of TICKET_SIGNING_KEYS"):
        make_app("bookings", env={"TICKET_SIGNING_KEYS": ""})
    with pytest.raises(SettingsError, match="TICKET_ACTIVE_KID is required"):
        two = {
            **json.loads(generate_signing_keys_json()),
            **json.loads(generate_signing_keys_json()),
        }
        make_app("bookings", env={"TICKET_SIGNING_KEYS": json.dumps(two)})
