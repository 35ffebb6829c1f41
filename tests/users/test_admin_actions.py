"""Admins deactivate, reactivate and demote accounts; each action is audited and takes
effect on sessions at once."""

from __future__ import annotations

from evently.core.auth import AUTHENTICATOR, Principal
from evently.core.db import POOL
from tests.users.helpers import admin_session, bearer, login, register


async def act(users, admin: dict, user_id: int, action: str):
    return await users.post(
        f"/api/v1/auth/admin/users/{user_id}/{action}", headers=bearer(admin["access_token"])
    )


async def audit(users, admin: dict, user_id: int) -> list[dict]:
    response = await users.get(
        f"/api/v1/auth/admin/users/{user_id}/audit", headers=bearer(admin["access_token"])
    )
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def refresh(users, session: dict):
    return await users.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )


async def test_a_deactivated_account_cannot_log_in_or_refresh_and_it_is_audited(users):
    admin = await admin_session(users)
    customer = await register(users, "gone@example.com")
    user_id = customer["user"]["id"]
    response = await act(users, admin, user_id, "deactivate")
    assert response.status == 200, await response.text()
    assert (await response.json())["deactivated_at"] is not None
    assert (await refresh(users, customer)).status == 401  # every session ended at once
    refused = await login(users, "gone@example.com")
    assert refused.status == 403
    assert (await refused.json())["code"] == "account_deactivated"
    # A wrong password still gets the one answer for all: nothing is revealed.
    assert (await login(users, "gone@example.com", "wrong-Password-1")).status == 401
    again = await act(users, admin, user_id, "deactivate")
    assert again.status == 200  # repeating it changes nothing, and logs nothing
    entries = await audit(users, admin, user_id)
    assert [(e["action"], e["actor_id"]) for e in entries] == [("deactivate", admin["user"]["id"])]


async def test_reactivating_lets_the_account_log_in_but_old_sessions_stay_ended(users):
    admin = await admin_session(users)
    customer = await register(users, "back@example.com")
    user_id = customer["user"]["id"]
    await act(users, admin, user_id, "deactivate")
    response = await act(users, admin, user_id, "reactivate")
    assert response.status == 200
    assert (await response.json())["deactivated_at"] is None
    assert (await login(users, "back@example.com")).status == 200
    assert (await refresh(users, customer)).status == 401
    assert [e["action"] for e in await audit(users, admin, user_id)] == [
        "reactivate",
        "deactivate",
    ]


async def test_a_demoted_admin_becomes_a_customer_and_its_sessions_end(users):
    root = await admin_session(users)
    other = await admin_session(users, "other-admin@example.com")
    other_id = other["user"]["id"]
    response = await act(users, root, other_id, "demote")
    assert response.status == 200, await response.text()
    demoted = await response.json()
    assert (demoted["roles"], demoted["permissions"]) == (["customer"], [])
    assert (await refresh(users, other)).status == 401
    assert (await login(users, "other-admin@example.com", admin=True)).status == 401
    assert (await login(users, "other-admin@example.com")).status == 200
    (entry,) = await audit(users, root, other_id)
    assert entry["action"] == "demote"
    assert "admin" in entry["details"]["roles"]


async def test_the_last_active_admin_cannot_be_demoted_nor_deactivate_itself(users):
    root = await admin_session(users)
    root_id = root["user"]["id"]
    last = await act(users, root, root_id, "demote")
    assert last.status == 409
    assert (await last.json())["code"] == "last_admin"
    own = await act(users, root, root_id, "deactivate")
    assert own.status == 409
    assert (await own.json())["code"] == "own_account"
    assert await audit(users, root, root_id) == []


async def test_only_admins_act_and_unknown_accounts_are_404(users):
    admin = await admin_session(users)
    customer = await register(users, "plain@example.com")
    other = await register(users, "target@example.com")
    forbidden = await act(users, customer, other["user"]["id"], "deactivate")
    assert forbidden.status == 403
    assert (await act(users, admin, 10**9, "deactivate")).status == 404
    assert (await login(users, "target@example.com")).status == 200


async def test_a_session_opened_while_deactivating_ends_at_its_first_refresh(users):
    """Login read the account just before the deactivation committed."""
    customer = await register(users, "racing@example.com")
    async with users.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE users.users SET deactivated_at = now() WHERE id = $1", customer["user"]["id"]
        )
    refused = await refresh(users, customer)
    assert refused.status == 403
    assert (await refused.json())["code"] == "account_deactivated"
    assert (await refresh(users, customer)).status == 401  # and the session is gone


async def grant(users, admin: dict, user_id: int, permission: str, action: str = "grant"):
    return await users.post(
        f"/api/v1/auth/admin/users/{user_id}/{action}",
        json={"permission": permission},
        headers=bearer(admin["access_token"]),
    )


async def test_staff_are_granted_checkin_scan_and_it_is_in_their_next_token(users):
    admin = await admin_session(users)
    staff = await register(users, "gate@example.com")
    user_id = staff["user"]["id"]
    response = await grant(users, admin, user_id, "checkin:scan")
    assert response.status == 200, await response.text()
    assert (await response.json())["permissions"] == ["checkin:scan"]
    token = (await (await login(users, "gate@example.com")).json())["access_token"]
    claims = await users.app[AUTHENTICATOR].verify(token)
    principal = Principal.from_claims(claims)
    assert principal.can("checkin:scan")
    assert not principal.is_admin and not principal.can("bookings:read")
    assert [e["action"] for e in await audit(users, admin, user_id)] == ["grant"]


async def test_only_staff_permissions_can_be_granted(users):
    admin = await admin_session(users)
    customer = await register(users, "ambitious@example.com")
    response = await grant(users, admin, customer["user"]["id"], "bookings:read")
    assert response.status == 400
    assert [e["field"] for e in (await response.json())["errors"]] == ["body.permission"]
    assert await audit(users, admin, customer["user"]["id"]) == []


async def test_a_channel_hold_permission_names_one_channel(users):
    admin = await admin_session(users)
    staff = await register(users, "promoter@example.com")
    user_id = staff["user"]["id"]
    response = await grant(users, admin, user_id, "channels:hold:promoter-x")
    assert response.status == 200, await response.text()
    assert (await response.json())["permissions"] == ["channels:hold:promoter-x"]
    token = (await (await login(users, "promoter@example.com")).json())["access_token"]
    principal = Principal.from_claims(await users.app[AUTHENTICATOR].verify(token))
    assert principal.can("channels:hold:promoter-x")
    assert not principal.can("channels:hold") and not principal.can("channels:hold:other")

    response = await grant(users, admin, user_id, "channels:hold:not a slug")
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.permission"


async def test_revoking_a_staff_permission_ends_the_accounts_sessions(users):
    admin = await admin_session(users)
    staff = await register(users, "former-gate@example.com")
    user_id = staff["user"]["id"]
    await grant(users, admin, user_id, "checkin:scan")
    session = await (await login(users, "former-gate@example.com")).json()
    response = await grant(users, admin, user_id, "checkin:scan", action="revoke")
    assert response.status == 200
    assert (await response.json())["permissions"] == []
    assert (await refresh(users, session)).status == 401
    actions = [e["action"] for e in await audit(users, admin, user_id)]
    assert actions == ["revoke", "grant"]
