"""Who may do what: admins by their permissions, staff only by staff permissions."""

from __future__ import annotations

import pytest

from evently.core.auth import STAFF_PERMISSIONS, Principal, check_claim_shapes, is_staff_permission
from evently.core.errors import Unauthorized


def principal(roles: set[str], permissions: set[str]) -> Principal:
    return Principal(1, "p@example.com", frozenset(roles), frozenset(permissions))


def test_an_admin_can_do_what_its_permissions_name() -> None:
    admin = principal({"admin"}, {"events:write"})
    assert admin.can("events:write") and not admin.can("users:admin")
    assert principal({"admin"}, {"*"}).can("users:admin")


def test_staff_can_use_a_staff_permission_and_nothing_else() -> None:
    assert "checkin:scan" in STAFF_PERMISSIONS
    staff = principal({"customer"}, {"checkin:scan", "bookings:read", "*"})
    assert staff.can("checkin:scan")
    assert not staff.can("bookings:read") and not staff.can("users:admin")


def test_a_customer_without_the_permission_cannot_scan() -> None:
    assert not principal({"customer"}, set()).can("checkin:scan")


def test_email_verified_comes_from_its_claim_and_only_true_counts() -> None:
    claims = {"sub": "5", "roles": [], "perms": []}
    assert Principal.from_claims(claims).email_verified is False  # older tokens
    assert Principal.from_claims({**claims, "email_verified": True}).email_verified is True


def test_a_malformed_email_verified_claim_is_refused() -> None:
    claims = {"sub": "5", "roles": [], "perms": [], "exp": 1, "email_verified": "true"}
    with pytest.raises(Unauthorized, match="email_verified"):
        check_claim_shapes(claims)
    check_claim_shapes({**claims, "email_verified": True})


def test_a_channel_hold_grant_names_every_channel_or_one() -> None:
    one = principal({"customer"}, {"channels:hold:promoter-x"})
    assert one.can("channels:hold:promoter-x")
    assert not one.can("channels:hold") and not one.can("channels:hold:sponsor-y")
    assert principal({"customer"}, {"channels:hold"}).can("channels:hold")
    assert not is_staff_permission("channels:hold:") and not is_staff_permission("bookings:read")
