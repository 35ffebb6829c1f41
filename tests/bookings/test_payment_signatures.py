"""Webhook signatures (Stripe-style ``t=...,v1=...``): pure functions, clock as argument."""

from __future__ import annotations

import pytest

from evently.bookings.payment import InvalidWebhook
from evently.bookings.payment_signatures import sign_payload, verify_signature

SECRET = "whsec_test"
BODY = b'{"id": "evt_1", "type": "refund.succeeded"}'
NOW = 1_800_000_000


def test_a_signed_body_verifies_within_the_tolerance():
    header = sign_payload(SECRET, BODY, NOW)
    verify_signature(SECRET, BODY, header, now=NOW + 299)
    verify_signature(SECRET, BODY, header, now=NOW - 299)


def test_one_matching_signature_of_several_is_enough_for_a_rotation():
    header = sign_payload(SECRET, BODY, NOW)
    old = sign_payload("whsec_old", BODY, NOW).split(",")[1]
    verify_signature(SECRET, BODY, f"{header},{old}", now=NOW)


@pytest.mark.parametrize(
    ("header", "now", "reason"),
    [
        (sign_payload(SECRET, BODY, NOW), NOW + 301, "timestamp"),
        (sign_payload("whsec_other", BODY, NOW), NOW, "does not match"),
        (sign_payload(SECRET, BODY + b" ", NOW), NOW, "does not match"),
        (sign_payload(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), NOW, "match"),
        (None, NOW, "missing"),
        ("", NOW, "missing"),
        ("v1=abc", NOW, "t=<seconds>"),
        (f"t={NOW}", NOW, "t=<seconds>"),
        ("t=soon,v1=abc", NOW, "t=<seconds>"),
    ],
)
def test_a_bad_signature_is_refused(header, now, reason):
    with pytest.raises(InvalidWebhook, match=reason):
        verify_signature(SECRET, BODY, header, now=now)
