"""The one advisory-lock helper.

Rules (after pretix's locking service):

* every lock a transaction needs is taken in **one call**, at the start;
* keys are ``(namespace, id)`` pairs packed into PostgreSQL's two-int form and taken in
  **sorted order**, so two transactions can never wait on each other in a cycle;
* locks are **transaction-scoped** (``pg_advisory_xact_lock``): commit or rollback
  releases them, nothing can leak;
* waiting is bounded by ``SET LOCAL lock_timeout``; a timeout raises ``LockTimeout``,
  which the HTTP layer answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import asyncpg

from evently.core.errors import ServiceUnavailable


class LockTimeout(ServiceUnavailable):
    """Another transaction held the lock too long; the request changed nothing."""

    code = "lock_timeout"
    title = "Busy, try again"

    def __init__(self, detail: str | None = None, retry_after_s: int = 1) -> None:
        super().__init__(
            detail or "The resource is busy; nothing was changed. Retry shortly.",
            headers={"Retry-After": str(retry_after_s)},
        )


@dataclass(frozen=True, order=True)
class LockKey:
    """An advisory-lock key: a namespace hash and a 32-bit id, ordered for sorting."""

    namespace: int
    ident: int

    @classmethod
    def of(cls, namespace: str, ident: int) -> LockKey:
        """Key for ``ident`` inside ``namespace`` (e.g. ``("event", 42)``)."""
        ns = zlib.crc32(namespace.encode()) - 2**31
        return cls(ns, _to_int4(ident))


def _to_int4(value: int) -> int:
    """Fold any integer into PostgreSQL's signed 32-bit range."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def lock_statements(keys: Iterable[LockKey], timeout_ms: int | None = None) -> str:
    """SQL that sets ``lock_timeout`` and takes every key, sorted, as one simple query.

    The keys are integers built by ``LockKey``, so inlining them is safe; callers may
    prepend this to their own statements to lock, check and write in one round trip.
    """
    ordered = sorted(set(keys))
    parts = []
    if timeout_ms is not None:
        parts.append(f"SET LOCAL lock_timeout = '{int(timeout_ms)}ms'")
    if ordered:
        calls = ", ".join(f"pg_advisory_xact_lock({k.namespace}, {k.ident})" for k in ordered)
        parts.append(f"SELECT {calls}")
    return ";\n".join(parts)


async def advisory_xact_lock(
    conn: asyncpg.Connection,
    keys: Iterable[LockKey],
    *,
    timeout_ms: int | None = None,
    observe_wait: Callable[[float], None] | None = None,
) -> None:
    """Take every key in one round trip, sorted; must run inside a transaction.

    ``timeout_ms`` sets ``lock_timeout`` for the rest of the transaction, and a timeout
    raises ``LockTimeout``. ``observe_wait`` receives the time spent waiting, in seconds.
    """
    sql = lock_statements(keys, timeout_ms)
    if not sql:
        return
    started = time.perf_counter()
    try:
        await conn.execute(sql)
    except asyncpg.LockNotAvailableError as exc:
        raise LockTimeout() from exc
    finally:
        if observe_wait is not None:
            observe_wait(time.perf_counter() - started)
