"""Request and response bodies of the users service's HTTP API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evently.users.tokens import Session

_PHONE = r"^\+?[0-9][0-9 ()./-]{4,24}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_Body):
    email: str = Field(min_length=1, max_length=320, description="Stored trimmed and lower-cased")
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="At least 10 characters, two kinds of characters, not the email",
    )
    name: str = Field("", max_length=100)
    phone: str | None = Field(None, pattern=_PHONE)


class AdminRegisterIn(_Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field("", max_length=100)


class LoginIn(_Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshTokenIn(_Body):
    refresh_token: str = Field(min_length=1, max_length=256)


class ProfileUpdateIn(_Body):
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, pattern=_PHONE, description="null removes the phone")
    email: str | None = Field(
        None, min_length=1, max_length=320, description="Changing it needs current_password"
    )
    current_password: str | None = Field(None, max_length=1024)


class PasswordChangeIn(_Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(
        min_length=1,
        max_length=1024,
        description="At least 10 characters, two kinds of characters, not the email, "
        "not the current password",
    )


class PasswordResetRequestIn(_Body):
    email: str = Field(min_length=1, max_length=320)


class PasswordResetIn(_Body):
    token: str = Field(min_length=1, max_length=256, description="The token from the mail")
    new_password: str = Field(
        min_length=1,
        max_length=1024,
        description="At least 10 characters, two kinds of characters, not the email",
    )


class EmailVerificationIn(_Body):
    token: str = Field(min_length=1, max_length=256, description="The token from the mail")


class AcceptedOut(BaseModel):
    message: str


class VerifyTokenIn(_Body):
    token: str = Field(min_length=1, max_length=8192)


class BookingsQuery(_Body):
    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(20, ge=1, le=100)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    phone: str | None
    roles: list[str]
    permissions: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    deactivated_at: dt.datetime | None = Field(
        description="Set while an admin has deactivated the account"
    )
    email_verified: bool = Field(
        description="Whether the owner confirmed the email through a mailed link"
    )

    @classmethod
    def of(cls, user: Mapping[str, Any]) -> UserOut:
        return cls(**{name: user[name] for name in cls.model_fields})


class SessionOut(BaseModel):
    user: UserOut
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque; exchange it at /api/v1/auth/refresh once")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(
            user=UserOut.of(session.user),
            access_token=session.access_token,
            expires_in=session.access_expires_in,
            refresh_token=session.refresh.token,
            refresh_expires_in=session.refresh_expires_in,
        )


class BookingsPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Bookings as the bookings service shows them")
    total: int
    page: int
    limit: int


class ClaimsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    iss: str
    aud: str | list[str]
    sub: str
    email: str
    roles: list[str]
    perms: list[str]
    typ: str
    iat: int
    nbf: int | None = None
    exp: int
    jti: str | None = None


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    actor_id: int = Field(description="The admin who acted")
    action: str = Field(description="deactivate, reactivate, demote, grant or revoke")
    user_id: int
    details: dict[str, Any]


class PermissionIn(_Body):
    permission: str = Field(min_length=1, max_length=100, description="e.g. checkin:scan")


class AuditQuery(_Body):
    limit: int = Field(50, ge=1, le=500)


class AuditLogOut(BaseModel):
    items: list[AuditEntryOut] = Field(description="Newest first")
