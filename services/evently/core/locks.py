"""The one advisory-lock helper.

Rules (after pretix's locking service):

* every lock a transaction needs is taken in **one call**, at the start;
* keys are ``(namespace, id)`` pairs packed into PostgreSQL's two-int form and taken in
  **sorted order**, so two transactions can never wait on each other in a cycle;
* locks are **transaction-scoped** (``pg_advisory_xact_lock``): commit or rollback
  releases them, nothing can leak;
* waiting is bounded by ``SET LOCAL lock_timeout``; a timeout raises ``LockTimeout``,
  which the HTTP layer answers with 503 and ``Retry-After``.

That one call may also **probe** keys (``pg_try_advisory_xact_lock``) before it waits:
a probe never waits, so it cannot take part in a deadlock; a busy probe means "another
transaction is already doing this" (e.g. a request with the same idempotency key is in
flight), and the call reports which probes were busy.

Two ways to make the call:

* from Python, inside ``conn.transaction()``: ``await advisory_xact_lock(conn, keys)``;
* from a PL/pgSQL function that does lock, check and write in one round trip: pass
  ``LockRequest(keys, probes).arguments()`` as parameters and make the function's first
  statement one call to the service's ``take_advisory_xact_locks`` SQL function (see
  ``TAKE_LOCKS_FUNCTION_SQL``, which a service defines in its schema in
  ``sql/take_advisory_xact_locks.sql``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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
    def of(cls, namespace: str, ident: int | str) -> LockKey:
        """Key for ``ident`` inside ``namespace`` (e.g. ``("event", 42)``).

        A string ``ident`` (e.g. an idempotency key) is hashed into the 32-bit range;
        two strings may then share a key, which only ever makes a caller wait or retry.
        """
        ns = zlib.crc32(namespace.encode()) - 2**31
        if isinstance(ident, str):
            ident = zlib.crc32(ident.encode())
        return cls(ns, _to_int4(ident))


def _to_int4(value: int) -> int:
    """Fold any integer into PostgreSQL's signed 32-bit range."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def sorted_keys(keys: Iterable[LockKey]) -> list[LockKey]:
    """The distinct keys in the one order every transaction takes them in."""
    return sorted(set(keys))


@dataclass(frozen=True)
class LockRequest:
    """Everything one transaction locks: keys to wait for and keys only to probe.

    Keys are deduplicated and sorted. Probes keep their order (the SQL function probes
    them sorted too, and reports busy ones by their position here), so a batch can have
    one probe per item.
    """

    keys: tuple[LockKey, ...] = ()
    probes: tuple[LockKey, ...] = field(default=())

    @classmethod
    def of(cls, keys: Iterable[LockKey], probes: Iterable[LockKey] = ()) -> LockRequest:
        return cls(tuple(sorted_keys(keys)), tuple(probes))

    def arguments(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """``(key namespaces, key ids, probe namespaces, probe ids)`` as SQL int4 arrays."""
        return (
            [k.namespace for k in self.keys],
            [k.ident for k in self.keys],
            [k.namespace for k in self.probes],
            [k.ident for k in self.probes],
        )


# The SQL side of the one call, for services that lock inside a PL/pgSQL function. A
# service defines it in its own schema, in sql/ (replace SCHEMA). It sets the
# transaction's lock_timeout, probes every probe key, then waits for every key in sorted
# order. It returns the seconds spent waiting and the (1-based) positions of the probes
# that were busy. A timeout raises lock_not_available (55P03), aborting the statement.
TAKE_LOCKS_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION SCHEMA.take_advisory_xact_locks(
    p_key_ns integer[], p_key_ids integer[],
    p_probe_ns integer[], p_probe_ids integer[],
    p_lock_timeout_ms integer,
    OUT lock_wait_s double precision, OUT busy_probes integer[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    started timestamptz := clock_timestamp();
    k record;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
    busy_probes := '{}';
    FOR k IN SELECT ns, id, n FROM unnest(p_probe_ns, p_probe_ids) WITH ORDINALITY AS t(ns, id, n)
             ORDER BY ns, id, n
    LOOP
        IF NOT pg_try_advisory_xact_lock(k.ns, k.id) THEN
            busy_probes := busy_probes || k.n::integer;
        END IF;
    END LOOP;
    FOR k IN SELECT DISTINCT ns, id FROM unnest(p_key_ns, p_key_ids) AS t(ns, id) ORDER BY ns, id
    LOOP
        PERFORM pg_advisory_xact_lock(k.ns, k.id);
    END LOOP;
    lock_wait_s := extract(epoch FROM clock_timestamp() - started);
END
$fn$;
"""


def lock_statements(keys: Iterable[LockKey], timeout_ms: int | None = None) -> str:
    """SQL that sets ``lock_timeout`` and takes every key, sorted, as one simple query.

    The keys are integers built by ``LockKey``, so inlining them is safe; callers may
    prepend this to their own statements to lock, check and write in one round trip.
    """
    ordered = sorted_keys(keys)
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
