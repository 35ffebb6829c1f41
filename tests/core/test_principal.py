"""Who may do what: admins by their permissions, staff only by staff permissions."""

from __future__ import annotations

from evently.core.auth import STAFF_PERMISSIONS, Principal


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
