"""Login and registration throttling, kept in PostgreSQL.

Logins count per account and per client address; registrations (each costs a bcrypt
hash, and fresh accounts could hoard seats) count per client address.

Each attempt is counted *before* the password is checked, in one atomic upsert, so a
burst of concurrent attempts can never slip more than the limit through; a successful
login gives its attempt back. The state lives in ``users.login_throttle``, shared by
every replica. Each bucket has a fixed window that starts at its first attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

import asyncpg

from evently.core.errors import TooManyRequests
from evently.core.net import address_bucket
from evently.users import queries
from evently.users.settings import UsersSettings


@dataclass(frozen=True)
class Limit:
    """At most ``max_attempts`` failed attempts per ``window_s`` seconds in ``bucket``."""

    bucket: str
    max_attempts: int
    window_s: int


@dataclass(frozen=True)
class CountedAttempt:
    """The windows an attempt was counted in, so it can be refunded from the same ones."""

    buckets: tuple[str, ...]
    window_ends: tuple[dt.datetime, ...]


def login_limits(settings: UsersSettings, email: str, address: str) -> list[Limit]:
    """The two buckets a login for ``email`` from ``address`` counts against."""
    # The account bucket holds a digest, not the email: typos and unknown emails
    # should not leave readable addresses in the table.
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    return [
        Limit(
            f"account:{account}",
            settings.login_account_max_attempts,
            settings.login_account_window_s,
        ),
        Limit(
            f"address:{address_bucket(address)}",
            settings.login_address_max_attempts,
            settings.login_address_window_s,
        ),
    ]


def registration_limits(settings: UsersSettings, address: str) -> list[Limit]:
    """The bucket a registration from ``address`` counts against (successful or not)."""
    return [
        Limit(
            f"register:{address_bucket(address)}",
            settings.register_address_max_attempts,
            settings.register_address_window_s,
        )
    ]


async def count_attempt(
    pool: asyncpg.Pool, limits: list[Limit], what: str = "login attempts"
) -> CountedAttempt:
    """Count one attempt in every bucket; raise 429 with ``Retry-After`` if any is over."""
    rows = await pool.fetch(
        queries.COUNT_LOGIN_ATTEMPT,
        [limit.bucket for limit in limits],
        [float(limit.window_s) for limit in limits],
    )
    by_bucket = {row["bucket"]: row for row in rows}
    # A window opened by a transaction that started after ours ends more than one window
    # from our now(): never ask a client to wait longer than the window itself.
    over = [
        min(by_bucket[limit.bucket]["retry_after_s"], math.ceil(limit.window_s))
        for limit in limits
        if by_bucket[limit.bucket]["attempts"] > limit.max_attempts
    ]
    if over:
        retry_after = max(1, *over)
        raise TooManyRequests(
            f"Too many {what}; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
    return CountedAttempt(
        tuple(by_bucket), tuple(row["window_ends_at"] for row in by_bucket.values())
    )


async def refund_attempt(pool: asyncpg.Pool, attempt: CountedAttempt) -> None:
    """Give back a counted attempt (the login succeeded), within the same windows."""
    await pool.execute(
        queries.REFUND_LOGIN_ATTEMPT, list(attempt.buckets), list(attempt.window_ends)
    )


async def purge_ended_windows(pool: asyncpg.Pool) -> None:
    """Delete buckets whose window is over (they would restart at 1 anyway)."""
    await pool.execute(queries.PURGE_ENDED_LOGIN_WINDOWS)
