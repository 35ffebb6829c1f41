"""HTTP routes of the users service: thin handlers over the domain functions."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import Api, json_response
from evently.core.app import SETTINGS
from evently.core.auth import (
    AUTHENTICATOR,
    principal,
    require_admin,
    require_internal,
    require_user,
)
from evently.core.clients import HTTP_SESSION, InternalClient
from evently.core.db import POOL
from evently.core.net import client_address
from evently.core.signing_keys import JWKS_SCHEMA
from evently.users import (
    accounts,
    admin_actions,
    email_verification,
    password_change,
    password_reset,
    sessions,
)
from evently.users.keys import KEYRING
from evently.users.models import (
    AcceptedOut,
    AdminRegisterIn,
    AuditEntryOut,
    AuditLogOut,
    AuditQuery,
    BookingsPage,
    BookingsQuery,
    ClaimsOut,
    EmailVerificationIn,
    LoginIn,
    PasswordChangeIn,
    PasswordResetIn,
    PasswordResetRequestIn,
    PermissionIn,
    ProfileUpdateIn,
    RefreshTokenIn,
    RegisterIn,
    SessionOut,
    UserOut,
    VerifyTokenIn,
)
from evently.users.settings import UsersSettings
from evently.users.user_bookings import bookings_of_user

api = Api("users")
# The one answer to a password reset request, whether or not the email has an account.
RESET_ACCEPTED = "If an account uses this email, a reset link is on its way to it."


def _settings(request: web.Request) -> UsersSettings:
    return request.app[SETTINGS]


def _address(request: web.Request) -> str:
    return client_address(request, _settings(request).trusted_proxies)


# --- public auth ----------------------------------------------------------------------


@api.post(
    "/api/v1/auth/register",
    summary="Create a customer account and log it in",
    body=RegisterIn,
    response=SessionOut,
    status=201,
    description="Rate-limited per client address (429 with Retry-After).",
    errors=(409, 429),
)
async def register(request: web.Request, body: RegisterIn) -> web.Response:
    session = await sessions.register(
        request.app[POOL],
        _settings(request),
        request.app[KEYRING],
        email=body.email,
        password=body.password,
        name=body.name,
        phone=body.phone,
        address=_address(request),
    )
    return json_response(SessionOut.of(session), status=201)


@api.post(
    "/api/v1/auth/login",
    summary="Log in with email and password",
    description="Failures never reveal whether the email exists. Rate-limited per account "
    "and per client address (429 with Retry-After).",
    body=LoginIn,
    response=SessionOut,
    errors=(401, 403, 429),
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    session = await sessions.log_in(
        request.app[POOL],
        _settings(request),
        request.app[KEYRING],
        email=body.email,
        password=body.password,
        address=_address(request),
    )
    return json_response(SessionOut.of(session))


@api.post(
    "/api/v1/auth/refresh",
    summary="Exchange a refresh token for a new access and refresh token",
    description="Each refresh token works once. Reusing one revokes its whole session.",
    body=RefreshTokenIn,
    response=SessionOut,
    errors=(401, 403),
)
async def refresh(request: web.Request, body: RefreshTokenIn) -> web.Response:
    session = await sessions.refresh_session(
        request.app[POOL], _settings(request), request.app[KEYRING], body.refresh_token
    )
    return json_response(SessionOut.of(session))


@api.post(
    "/api/v1/auth/logout",
    summary="End the session a refresh token belongs to",
    body=RefreshTokenIn,
    status=204,
)
async def logout(request: web.Request, body: RefreshTokenIn) -> web.Response:
    await sessions.log_out(request.app[POOL], body.refresh_token)
    return web.Response(status=204)


# --- forgotten passwords and email verification (docs/users.md) ------------------------


@api.post(
    "/api/v1/auth/password-reset",
    summary="Mail a single-use password reset link to the account using this email",
    description="Always 202 with the same body, whether or not an account uses the email. "
    "Throttled per email and per client address (429 with Retry-After).",
    body=PasswordResetRequestIn,
    response=AcceptedOut,
    status=202,
    errors=(429,),
)
async def request_password_reset(
    request: web.Request, body: PasswordResetRequestIn
) -> web.Response:
    await password_reset.request_password_reset(
        request.app[POOL], _settings(request), body.email, _address(request)
    )
    return json_response(AcceptedOut(message=RESET_ACCEPTED), status=202)


@api.post(
    "/api/v1/auth/password-reset/confirm",
    summary="Set a new password with the mailed token; every session of the account ends",
    description="The token works once, before it expires (400 `invalid_token` otherwise).",
    body=PasswordResetIn,
    status=204,
)
async def confirm_password_reset(request: web.Request, body: PasswordResetIn) -> web.Response:
    await password_reset.reset_password(
        request.app[POOL], _settings(request), body.token, body.new_password
    )
    return web.Response(status=204)


@api.post(
    "/api/v1/auth/email-verification/confirm",
    summary="Confirm an email address with the mailed token",
    description="400 `invalid_token` if the token is unknown, used, expired, or the "
    "account's email changed since it was mailed.",
    body=EmailVerificationIn,
    response=UserOut,
)
async def confirm_email(request: web.Request, body: EmailVerificationIn) -> web.Response:
    user = await email_verification.confirm_email(request.app[POOL], body.token)
    return json_response(UserOut.of(user))


# --- admin ----------------------------------------------------------------------------


@api.post(
    "/api/v1/auth/admin/login",
    summary="Log in as an admin",
    description="Non-admin accounts get the same 401 as a wrong password.",
    body=LoginIn,
    response=SessionOut,
    errors=(401, 403, 429),
)
async def admin_login(request: web.Request, body: LoginIn) -> web.Response:
    session = await sessions.log_in(
        request.app[POOL],
        _settings(request),
        request.app[KEYRING],
        email=body.email,
        password=body.password,
        address=_address(request),
        admin_only=True,
    )
    return json_response(SessionOut.of(session))


@api.post(
    "/api/v1/auth/admin/register",
    summary="Create another admin account (needs users:admin)",
    body=AdminRegisterIn,
    response=UserOut,
    status=201,
    auth=require_admin("users:admin"),
    errors=(409,),
)
async def admin_register(request: web.Request, body: AdminRegisterIn) -> web.Response:
    user = await accounts.create_account(
        request.app[POOL],
        _settings(request),
        email=body.email,
        password=body.password,
        name=body.name,
        admin=True,
    )
    return json_response(UserOut.of(user), status=201)


@api.post(
    "/api/v1/auth/admin/customers",
    summary="Create a customer account (needs users:admin; no per-address throttle)",
    body=AdminRegisterIn,
    response=UserOut,
    status=201,
    auth=require_admin("users:admin"),
    errors=(409,),
)
async def admin_create_customer(request: web.Request, body: AdminRegisterIn) -> web.Response:
    # For load tests (kubectl evently bench) and support: an admin vouches for them.
    user = await accounts.create_account(
        request.app[POOL],
        _settings(request),
        email=body.email,
        password=body.password,
        name=body.name,
    )
    return json_response(UserOut.of(user), status=201)


# --- admins acting on accounts (each action audited: admin_actions.py) ----------------

ACCOUNT = {"id": int}


@api.post(
    "/api/v1/auth/admin/users/{id}/deactivate",
    summary="Deactivate an account (needs users:admin): no login, sessions end now",
    description="Revokes every refresh token at once; access tokens already issued lapse "
    "within ACCESS_TOKEN_TTL_S. Repeating it changes nothing. Admins cannot deactivate "
    "themselves.",
    response=UserOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
    errors=(404, 409),
)
async def deactivate_user(request: web.Request, id: int) -> web.Response:
    user = await admin_actions.deactivate(
        request.app[POOL], actor_id=principal(request).user_id, user_id=id
    )
    return json_response(UserOut.of(user))


@api.post(
    "/api/v1/auth/admin/users/{id}/reactivate",
    summary="Reactivate an account (needs users:admin); its old sessions stay ended",
    response=UserOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
    errors=(404,),
)
async def reactivate_user(request: web.Request, id: int) -> web.Response:
    user = await admin_actions.reactivate(
        request.app[POOL], actor_id=principal(request).user_id, user_id=id
    )
    return json_response(UserOut.of(user))


@api.post(
    "/api/v1/auth/admin/users/{id}/demote",
    summary="Make an admin a customer again (needs users:admin); its sessions end",
    description="Roles become [customer] and permissions go. The last active admin "
    "cannot be demoted (409 last_admin).",
    response=UserOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
    errors=(404, 409),
)
async def demote_user(request: web.Request, id: int) -> web.Response:
    user = await admin_actions.demote(
        request.app[POOL], actor_id=principal(request).user_id, user_id=id
    )
    return json_response(UserOut.of(user))


@api.post(
    "/api/v1/auth/admin/users/{id}/grant",
    summary="Grant a staff permission such as checkin:scan (needs users:admin)",
    description="A non-admin account may hold only staff permissions; the permission is "
    "in the account's next access token (log in or refresh).",
    body=PermissionIn,
    response=UserOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
    errors=(404,),
)
async def grant_permission(request: web.Request, id: int, body: PermissionIn) -> web.Response:
    user = await admin_actions.grant(
        request.app[POOL],
        actor_id=principal(request).user_id,
        user_id=id,
        permission=body.permission,
    )
    return json_response(UserOut.of(user))


@api.post(
    "/api/v1/auth/admin/users/{id}/revoke",
    summary="Take a staff permission back (needs users:admin); the account's sessions end",
    body=PermissionIn,
    response=UserOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
    errors=(404,),
)
async def revoke_permission(request: web.Request, id: int, body: PermissionIn) -> web.Response:
    user = await admin_actions.revoke_permission(
        request.app[POOL],
        actor_id=principal(request).user_id,
        user_id=id,
        permission=body.permission,
    )
    return json_response(UserOut.of(user))


@api.get(
    "/api/v1/auth/admin/users/{id}/audit",
    summary="What admins did to an account, newest first (needs users:admin)",
    query=AuditQuery,
    response=AuditLogOut,
    auth=require_admin("users:admin"),
    path_params=ACCOUNT,
)
async def user_audit_log(request: web.Request, id: int, query: AuditQuery) -> web.Response:
    entries = await admin_actions.audit_log(request.app[POOL], id, query.limit)
    return json_response(AuditLogOut(items=[AuditEntryOut(**dict(e)) for e in entries]))


# --- the caller's own account ---------------------------------------------------------


@api.get(
    "/api/v1/users/profile",
    summary="The caller's profile",
    response=UserOut,
    auth=require_user,
    errors=(404,),
)
async def get_profile(request: web.Request) -> web.Response:
    user = await accounts.get_user(request.app[POOL], principal(request).user_id)
    return json_response(UserOut.of(user))


@api.put(
    "/api/v1/users/profile",
    summary="Update the caller's name, phone or email",
    description="Only the fields sent change. A new email needs current_password.",
    body=ProfileUpdateIn,
    response=UserOut,
    auth=require_user,
    errors=(403, 404, 409, 429),
)
async def update_profile(request: web.Request, body: ProfileUpdateIn) -> web.Response:
    changes = accounts.ProfileChanges(
        name=body.name,
        phone=body.phone,
        clear_phone="phone" in body.model_fields_set and body.phone is None,
        email=body.email,
        current_password=body.current_password,
    )
    user = await accounts.update_profile(
        request.app[POOL],
        _settings(request),
        principal(request).user_id,
        changes,
        _address(request),
    )
    return json_response(UserOut.of(user))


@api.post(
    "/api/v1/users/password",
    summary="Change the caller's password; every other session ends",
    description="Needs the current password (throttled like logging in). Revokes every "
    "refresh token of the account and answers with a new session for the caller. Access "
    "tokens already issued stay valid until they expire (ACCESS_TOKEN_TTL_S).",
    body=PasswordChangeIn,
    response=SessionOut,
    auth=require_user,
    errors=(403, 404, 429),
)
async def change_password(request: web.Request, body: PasswordChangeIn) -> web.Response:
    session = await password_change.change_password(
        request.app[POOL],
        _settings(request),
        request.app[KEYRING],
        user_id=principal(request).user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        address=_address(request),
    )
    return json_response(SessionOut.of(session))


@api.post(
    "/api/v1/users/email-verification",
    summary="Mail the caller a new email verification link",
    description="202; nothing is sent when the email is verified already. Throttled per "
    "account (429 with Retry-After).",
    response=AcceptedOut,
    status=202,
    auth=require_user,
    errors=(404, 429),
)
async def request_email_verification(request: web.Request) -> web.Response:
    sent = await email_verification.request_verification(
        request.app[POOL], _settings(request), principal(request).user_id
    )
    message = "A verification link is on its way." if sent else "The email is verified already."
    return json_response(AcceptedOut(message=message), status=202)


@api.get(
    "/api/v1/users/bookings",
    summary="The caller's bookings, newest first, one page at a time",
    query=BookingsQuery,
    response=BookingsPage,
    auth=require_user,
    errors=(503,),
)
async def my_bookings(request: web.Request, query: BookingsQuery) -> web.Response:
    settings = _settings(request)
    client = InternalClient(
        request.app[HTTP_SESSION], settings.bookings_url, settings.internal_api_key, "bookings"
    )
    page = await bookings_of_user(client, principal(request).user_id, query.page, query.limit)
    return json_response(page)


# --- keys and internal API ------------------------------------------------------------


@api.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify access tokens",
    response=JWKS_SCHEMA,
    tags=("auth",),
)
async def jwks(request: web.Request) -> web.Response:
    return json_response(request.app[KEYRING].jwks(), headers={"Cache-Control": "max-age=60"})


@api.post(
    "/internal/auth/verify",
    summary="Verify an access token and return its claims",
    description="401 with code invalid_token or token_expired when the token is not valid.",
    body=VerifyTokenIn,
    response=ClaimsOut,
    auth=require_internal,
)
async def verify_token(request: web.Request, body: VerifyTokenIn) -> web.Response:
    claims = await request.app[AUTHENTICATOR].verify(body.token)
    return json_response(claims)


@api.get(
    "/internal/users/{id}",
    summary="One account (no password hash)",
    response=UserOut,
    auth=require_internal,
    path_params={"id": int},
)
async def internal_user(request: web.Request, id: int) -> web.Response:
    user = await accounts.get_user(request.app[POOL], id)
    return json_response(UserOut.of(user))
