"""The transactional outbox: the only way a service's changes leave it.

A producer writes one row per message into ``<source>.outbox`` inside the same
transaction that changes its data (``enqueue``, or the producer's SQL functions), with no
consumer (DDL in docs/outbox.md). The ``OutboxRelay`` delivers those rows:

* **routed by the contracts**: the relay gives each new message to every consumer of its
  topic (``core.contracts.TOPICS``). A topic with one consumer is delivered from the
  message row itself; for a topic with several, the row goes to the first and a copy to
  each of the others. Each payload is rendered with the topic's contract just before
  it is sent;
* **one relay at a time**: a relay delivers only while it holds the session-level
  advisory lock ``("outbox-relay", <source>)`` on its own connection, so replicas can
  all run one and exactly one delivers; if that connection dies, another takes over;
* **at-least-once, in order per key**: a message is marked delivered only after the
  consumer acknowledged it, so a crash in between re-delivers; a message is eligible
  only when no earlier message for the same consumer and key is waiting on a retry;
* **failures stay local**: a message the consumer rejects backs off exponentially and
  blocks only later messages of its own key; other keys keep flowing;
* **woken by LISTEN/NOTIFY** on ``<source>_outbox``, with a poll as the fallback;
* **observable**: pending count and oldest-pending age per consumer are metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from evently.core import contracts
from evently.core.db import dumps, init_connection
from evently.core.locks import LockKey
from evently.core.tasks import wait_at_most

log = logging.getLogger("evently.outbox")

OUTBOX_PENDING = Gauge(
    "evently_outbox_pending_messages",
    "Outbox messages not yet acknowledged, by source service and consumer.",
    ["source", "consumer"],
)
OUTBOX_LAG = Gauge(
    "evently_outbox_lag_seconds",
    "Age of the oldest unacknowledged outbox message, by source and consumer.",
    ["source", "consumer"],
)
OUTBOX_DELIVERIES = Counter(
    "evently_outbox_deliveries_total",
    "Outbox messages handed to consumers, by source, consumer and outcome.",
    ["source", "consumer", "outcome"],
)
OUTBOX_DELIVERY_DURATION = Histogram(
    "evently_outbox_delivery_duration_seconds",
    "Time to deliver one batch to a consumer.",
    ["source", "consumer"],
)
OUTBOX_UNROUTED = Gauge(
    "evently_outbox_unrouted_messages",
    "Outbox messages whose topic has no consumers in the contracts (a bug), by source.",
    ["source"],
)
OUTBOX_LEADER = Gauge(
    "evently_outbox_relay_leader",
    "1 while this process's relay holds the delivery lock for the source.",
    ["source"],
)


@dataclass(frozen=True)
class OutboxMessage:
    """One message for one consumer: ``payload_json`` is the rendered payload (JSON), the
    aggregate's full state; it goes on the wire as it is, never decoded and re-encoded."""

    id: int
    topic: str
    key: str
    version: int
    payload_json: bytes
    created_at: datetime

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)

    def wire(self, source: str) -> bytes:
        """The message as ``POST /internal/inbox`` carries it (docs/outbox.md)."""
        head = json.dumps(
            {
                "id": self.id,
                "source": source,
                "topic": self.topic,
                "key": self.key,
                "version": self.version,
                "created_at": self.created_at.isoformat(),
            }
        ).encode()
        return head[:-1] + b', "payload": ' + self.payload_json + b"}"


async def enqueue(
    conn: asyncpg.Connection,
    source: str,
    topic: str,
    key: str | int,
    version: int,
    payload: Mapping[str, Any],
) -> None:
    """Write one message and wake the relay; call inside the transaction.

    The relay routes it to the topic's consumers. The payload is sent as JSON text, so
    any asyncpg connection works, with or without Evently's jsonb codec (the Kubernetes
    operator brings its own connections).
    """
    await conn.execute(
        f"""WITH written AS (
                INSERT INTO {source}.outbox (topic, key, version, payload)
                VALUES ($1, $2, $3, $4::text::jsonb)
                RETURNING 1)
            SELECT pg_notify('{source}_outbox', '') FROM written""",
        topic,
        str(key),
        version,
        dumps(dict(payload)),
    )


class Acknowledged(set[int]):
    """The ids a consumer acknowledged, and those it ``deferred``: not attempted within its
    time budget, to send again at once (neither applied nor failed)."""

    def __init__(self, ids: set[int], deferred: set[int] | None = None) -> None:
        super().__init__(ids)
        self.deferred = deferred or set()


class Consumer(Protocol):
    """Receives a batch in order; returns the ids it acknowledged (an ``Acknowledged``
    may also say which it deferred)."""

    async def deliver(self, source: str, messages: list[OutboxMessage]) -> set[int]: ...


class HttpConsumer:
    """Delivers to another service's ``POST /internal/inbox``."""

    def __init__(
        self, session_getter: Callable[[], aiohttp.ClientSession], base_url: str, api_key: str
    ) -> None:
        self._session = session_getter
        self.url = base_url.rstrip("/") + "/internal/inbox"
        self.api_key = api_key

    async def deliver(self, source: str, messages: list[OutboxMessage]) -> set[int]:
        body = b"".join(
            (
                b'{"source": ',
                json.dumps(source).encode(),
                b', "messages": [',
                b", ".join(m.wire(source) for m in messages),
                b"]}",
            )
        )
        async with self._session().post(
            self.url,
            data=body,
            headers={"X-Internal-Key": self.api_key, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            if response.status != 200:
                text = await response.text()
                raise RuntimeError(f"{self.url} answered {response.status}: {text[:200]}")
            data = await response.json()
        return Acknowledged(
            {int(i) for i in data.get("acknowledged", [])},
            {int(i) for i in data.get("deferred", [])},
        )


def backoff_seconds(attempts: int, base_s: float = 0.5, cap_s: float = 60.0) -> float:
    """Exponential backoff after ``attempts`` failures: 0.5 s, 1 s, 2 s … capped."""
    return min(cap_s, base_s * 2 ** max(0, attempts - 1))


# (topic, the stored payload as JSON text) -> the payload to send, as JSON.
Render = Callable[[str, str], bytes]


class OutboxRelay:
    """Delivers ``<source>.outbox`` to its consumers; safe to run in every replica.

    ``routes`` maps each topic to the consumers that receive it and ``render`` turns a
    stored payload into the one sent; ``contract_relay`` takes both from the contracts.
    """

    def __init__(
        self,
        dsn: str,
        source: str,
        consumers: Mapping[str, Consumer],
        *,
        routes: Mapping[str, tuple[str, ...]],
        render: Render | None = None,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 60.0,
        retention_s: float = 86400.0,
    ) -> None:
        self.dsn = dsn
        self.source = source
        self.consumers = dict(consumers)
        missing = {c for cs in routes.values() for c in cs} - set(self.consumers)
        if missing:
            raise ValueError(f"{source} outbox: no delivery for consumers {sorted(missing)}")
        self.routes = dict(routes)
        # A topic with one consumer is delivered straight from its unrouted rows; only
        # topics with several consumers are routed (one row per consumer).
        self._direct: dict[str, list[str]] = {name: [] for name in self.consumers}
        for topic, names in self.routes.items():
            if len(names) == 1:
                self._direct[names[0]].append(topic)
        self._fanned_out = {t: names for t, names in self.routes.items() if len(names) > 1}
        self.render = render
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.retention_s = retention_s
        self.lock = LockKey.of("outbox-relay", _stable_id(source))
        self._wake = asyncio.Event()
        self._last_purge = 0.0
        # Per consumer: whether a key may be waiting on a retry. Only the relay holding
        # the lock records failures, so once a round finds none, none appear until this
        # relay records one (or loses the lock); until then the rounds skip the search.
        self._may_be_blocked = dict.fromkeys(self.consumers, True)
        # Per consumer: when its pending count was last read (``_observe``).
        self._observed_at = dict.fromkeys(self.consumers, float("-inf"))
        self.observe_interval_s = 1.0
        self._unroutable = 0

    async def run(self) -> None:
        """Forever: become the delivering relay when possible, then deliver."""
        while True:
            try:
                await self._run_once_connected()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s outbox relay failed; reconnecting", self.source)
            OUTBOX_LEADER.labels(self.source).set(0)
            await asyncio.sleep(self.poll_interval_s)

    async def _run_once_connected(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        await init_connection(conn)
        try:
            while not await conn.fetchval(  # noqa: ASYNC110 - polling a database lock
                "SELECT pg_try_advisory_lock($1, $2)", self.lock.namespace, self.lock.ident
            ):
                await asyncio.sleep(self.poll_interval_s)
            OUTBOX_LEADER.labels(self.source).set(1)
            self._may_be_blocked = dict.fromkeys(self.consumers, True)
            await conn.add_listener(f"{self.source}_outbox", self._on_notify)
            while True:
                self._wake.clear()
                delivered = await self.deliver_pending(conn)
                await self._purge_delivered(conn)
                if delivered:
                    continue
                await wait_at_most(self._wake, self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def deliver_pending(self, conn: asyncpg.Connection) -> int:
        """Deliver one round to every consumer; returns how many messages were acknowledged.

        Callers must hold the relay lock (``run`` does); tests may call this directly.
        """
        await self.route_pending(conn)
        total = 0
        for name, consumer in self.consumers.items():
            delivered = await self._deliver_to(conn, name, consumer)
            total += delivered
            # Counting a long backlog costs a scan of it: while batches come full, count
            # at most once per ``observe_interval_s``; a short queue is counted each round.
            now = time.monotonic()
            if delivered < self.batch_size or now - self._observed_at[name] >= (
                self.observe_interval_s
            ):
                self._observed_at[name] = now
                await self._observe(conn, name)
        return total

    async def route_pending(self, conn: asyncpg.Connection, limit: int = 5000) -> int:
        """Give new messages of topics with several consumers to each of them.

        The message row itself goes to the topic's first consumer and a copy to each of
        the others, in id order, so every consumer still sees a key's messages in order.
        (A topic with one consumer needs no routing: it is delivered from its own rows.)
        Returns how many messages were routed.
        """
        if not self._fanned_out:
            return 0
        topics = [t for t, cs in self._fanned_out.items() for _ in cs]
        consumers = [c for cs in self._fanned_out.values() for c in cs]
        ranks = [rank for cs in self._fanned_out.values() for rank in range(1, len(cs) + 1)]
        routed = await conn.fetchval(
            f"""WITH routes AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
                        AS r(topic, consumer, rank)),
                new AS (
                    SELECT id FROM {self.source}.outbox
                    WHERE consumer IS NULL AND delivered_at IS NULL AND topic = ANY($1::text[])
                    ORDER BY id LIMIT $4),
                moved AS (
                    UPDATE {self.source}.outbox o SET consumer = r.consumer
                    FROM routes r
                    WHERE o.id IN (SELECT id FROM new) AND r.topic = o.topic AND r.rank = 1
                    RETURNING o.*),
                copied AS (
                    INSERT INTO {self.source}.outbox
                        (consumer, topic, key, version, payload, created_at)
                    SELECT r.consumer, m.topic, m.key, m.version, m.payload, m.created_at
                    FROM moved m JOIN routes r ON r.topic = m.topic AND r.rank > 1
                    ORDER BY m.id, r.rank
                    RETURNING 1)
                SELECT count(*) FROM moved""",
            topics,
            consumers,
            ranks,
            limit,
        )
        return int(routed)

    async def count_unroutable(self, conn: asyncpg.Connection) -> int:
        """Messages whose topic no consumer receives: a bug, logged and counted."""
        unroutable = await conn.fetchval(
            f"""SELECT count(*) FROM {self.source}.outbox
                WHERE consumer IS NULL AND delivered_at IS NULL
                  AND NOT topic = ANY($1::text[])""",
            list(self.routes),
        )
        if unroutable and unroutable != self._unroutable:
            log.error(
                "%s outbox: %d message(s) have a topic no consumer receives (core.contracts)",
                self.source,
                unroutable,
            )
        self._unroutable = unroutable
        OUTBOX_UNROUTED.labels(self.source).set(unroutable)
        return int(unroutable)

    async def _deliver_to(self, conn: asyncpg.Connection, name: str, consumer: Consumer) -> int:
        # Keys waiting on a retry are found once per round (a short list), then joined:
        # a correlated NOT EXISTS per candidate degenerates to pending x batch rows when
        # the planner has no statistics yet (a freshly filled outbox, mid flash sale).
        # Its messages: rows routed to it, and unrouted rows of the topics it alone
        # receives; each side is read in id order through the pending index. Finding the
        # blocked keys reads every pending row of the consumer: skipped ($4 false, a
        # one-time filter) while no key can be blocked (``_may_be_blocked``).
        check_blocked = self._may_be_blocked[name]
        rows = await conn.fetch(
            f"""WITH blocked AS MATERIALIZED (
                    SELECT key, min(id) AS first_id FROM {self.source}.outbox
                    WHERE $4::bool
                      AND (consumer = $1 OR (consumer IS NULL AND topic = ANY($3::text[])))
                      AND delivered_at IS NULL AND next_attempt_at > now()
                    GROUP BY key),
                candidates AS (
                    (SELECT * FROM {self.source}.outbox
                     WHERE consumer = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
                     ORDER BY id LIMIT $2)
                    UNION ALL
                    (SELECT * FROM {self.source}.outbox
                     WHERE consumer IS NULL AND topic = ANY($3::text[])
                       AND delivered_at IS NULL AND next_attempt_at <= now()
                     ORDER BY id LIMIT $2))
                SELECT o.id, o.topic, o.key, o.version, o.payload::text AS payload,
                       o.created_at, o.attempts, EXISTS (SELECT FROM blocked) AS any_blocked
                FROM candidates o
                LEFT JOIN blocked b ON b.key = o.key
                WHERE b.key IS NULL OR o.id < b.first_id
                ORDER BY o.id
                LIMIT $2""",
            name,
            self.batch_size,
            self._direct[name],
            check_blocked,
        )
        if not rows:
            return 0
        if check_blocked and not rows[0]["any_blocked"]:
            self._may_be_blocked[name] = False
        messages: list[OutboxMessage] = []
        unrenderable: dict[str, str] = {}  # key -> why its first message cannot be sent
        for r in rows:
            if r["key"] in unrenderable:
                continue
            try:
                payload = (
                    r["payload"].encode()
                    if self.render is None
                    else self.render(r["topic"], r["payload"])
                )
            except Exception as exc:  # a stored state its contract refuses: a producer bug
                unrenderable[r["key"]] = f"cannot render {r['topic']}: {exc}"[:500]
                log.error("%s outbox message %s: %s", self.source, r["id"], unrenderable[r["key"]])
                continue
            messages.append(
                OutboxMessage(r["id"], r["topic"], r["key"], r["version"], payload, r["created_at"])
            )
        attempts = {r["id"]: r["attempts"] for r in rows}
        started = time.perf_counter()
        try:
            # ``messages`` holds, per key, only what comes before an unrenderable message.
            acknowledged = await consumer.deliver(self.source, messages) if messages else set()
            error = "not acknowledged by the consumer"
        except Exception as exc:
            acknowledged = set()
            error = f"{type(exc).__name__}: {exc}"[:500]
        if unrenderable:
            error = next(iter(unrenderable.values()))
        OUTBOX_DELIVERY_DURATION.labels(self.source, name).observe(time.perf_counter() - started)
        # Only an in-order prefix per key counts: a later message whose predecessor of the
        # same key failed is retried after it, never applied out of order.
        deferred = getattr(acknowledged, "deferred", set())
        failed_keys: set[str] = set()
        done: list[int] = []
        failed: list[int] = []
        deferred_keys: set[str] = set()
        for r in rows:
            blocked = r["key"] in failed_keys or r["key"] in deferred_keys
            if not blocked and r["id"] in acknowledged:
                done.append(r["id"])
            elif r["key"] not in failed_keys and r["id"] in deferred:
                # Left for the next round, at once; nothing later of its key counts here.
                deferred_keys.add(r["key"])
            else:
                failed_keys.add(r["key"])
                failed.append(r["id"])
        if done:
            await conn.execute(
                f"UPDATE {self.source}.outbox SET delivered_at = now(), last_error = NULL "
                "WHERE id = ANY($1::bigint[])",
                done,
            )
        if failed:
            self._may_be_blocked[name] = True
            delays = [backoff_seconds(attempts[i] + 1, cap_s=self.max_backoff_s) for i in failed]
            await conn.execute(
                f"""UPDATE {self.source}.outbox o
                    SET attempts = o.attempts + 1,
                        next_attempt_at = now() + make_interval(secs => f.delay),
                        last_error = $3
                    FROM unnest($1::bigint[], $2::float8[]) AS f(id, delay)
                    WHERE o.id = f.id""",
                failed,
                delays,
                error,
            )
            log.warning(
                "%s outbox: %d message(s) to %s not delivered: %s",
                self.source,
                len(failed),
                name,
                error,
            )
        OUTBOX_DELIVERIES.labels(self.source, name, "delivered").inc(len(done))
        OUTBOX_DELIVERIES.labels(self.source, name, "failed").inc(len(failed))
        return len(done)

    async def _observe(self, conn: asyncpg.Connection, name: str) -> None:
        row = await conn.fetchrow(
            f"""SELECT count(*) AS pending,
                       coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag
                FROM {self.source}.outbox
                WHERE (consumer = $1 OR (consumer IS NULL AND topic = ANY($2::text[])))
                  AND delivered_at IS NULL""",
            name,
            self._direct[name],
        )
        OUTBOX_PENDING.labels(self.source, name).set(row["pending"])
        OUTBOX_LAG.labels(self.source, name).set(float(row["lag"]))

    async def _purge_delivered(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._last_purge < 60:
            return
        self._last_purge = time.monotonic()
        await self.count_unroutable(conn)
        await conn.execute(
            f"DELETE FROM {self.source}.outbox "
            "WHERE delivered_at < now() - make_interval(secs => $1)",
            self.retention_s,
        )


def contract_relay(
    dsn: str, source: str, consumers: Mapping[str, Consumer], **options: Any
) -> OutboxRelay:
    """The relay of ``source``, routing and rendering by the contracts (``core.contracts``)."""
    return OutboxRelay(
        dsn,
        source,
        consumers,
        routes=contracts.routes(source),
        render=contracts.render_json,
        **options,
    )


def _stable_id(text: str) -> int:
    return zlib.crc32(text.encode())
