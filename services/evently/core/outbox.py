"""The transactional outbox: the only way a service's changes leave it.

A producer writes one row per message into ``<source>.outbox`` inside the same
transaction that changes its data (``enqueue``, or the producer's SQL functions), with no
consumer (DDL in docs/outbox.md). The ``OutboxRelay`` delivers those rows:

* **sent once to every consumer** of its topic (``core.contracts.TOPICS``): each round
  renders a batch of new rows once with their topics' contracts, sends it to all their
  consumers at the same time and marks the rows delivered. A consumer that did not
  acknowledge a message gets a copy in its own queue (``consumer`` set, ``origin_id``
  naming the message, which it is sent as), written in the same statement;
* **one relay at a time**: a relay delivers only while it holds the session-level
  advisory lock ``("outbox-relay", <source>)`` on its own connection, so replicas can
  all run one and exactly one delivers; if that connection dies, another takes over;
* **at-least-once, in order per key**: a message is marked delivered only once every
  consumer acknowledged it or has it queued, so a crash in between re-delivers; a
  message is sent to a consumer only when no earlier message of its key is queued for
  that consumer;
* **failures stay local**: a message a consumer rejects backs off exponentially in
  that consumer's queue and holds back only later messages of its own key, for that
  consumer; other keys and other consumers keep flowing. A consumer whose delivery
  raises backs off as a whole: new messages go straight to its queue meanwhile;
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
from dataclasses import dataclass, field
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


@dataclass
class Outcome:
    """What became of one batch sent to one consumer. ``down``: not sent at all, the
    consumer is backing off; ``raised``: the delivery itself failed."""

    acknowledged: set[int]
    error: str
    deferred: set[int] = field(default_factory=set)
    sent: set[int] = field(default_factory=set)
    down: bool = False
    raised: bool = False

    def per_row(self, rows: list[asyncpg.Record], held: set[str] | None = None) -> list[str]:
        """Each row's result, in order: ``acknowledged``, ``failed``, ``deferred`` or
        ``queued`` (its key is ``held``: it waits behind that key's queue, unsent).

        Only an in-order prefix per key counts: a later message whose predecessor of the
        same key failed is retried after it, never applied out of order.
        """
        results: list[str] = []
        failed_keys: set[str] = set()
        deferred_keys: set[str] = set()
        for r in rows:
            key, sent_id = r["key"], r["sent_id"]
            if self.down or (held and key in held):
                results.append("queued")
            elif (
                key not in failed_keys
                and key not in deferred_keys
                and (sent_id in self.acknowledged)
            ):
                results.append("acknowledged")
            elif key not in failed_keys and sent_id in self.deferred:
                deferred_keys.add(key)
                results.append("deferred")
            else:
                failed_keys.add(key)
                results.append("failed")
        return results


async def _idle(outcome: Outcome) -> Outcome:
    """``outcome``, as an awaitable beside real sends."""
    return outcome


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
        backoff_base_s: float = 0.5,
        retention_s: float = 86400.0,
    ) -> None:
        self.dsn = dsn
        self.source = source
        self.consumers = dict(consumers)
        missing = {c for cs in routes.values() for c in cs} - set(self.consumers)
        if missing:
            raise ValueError(f"{source} outbox: no delivery for consumers {sorted(missing)}")
        self.routes = dict(routes)
        # Per consumer: the topics it receives (its pending count is theirs + its queue).
        self._topics: dict[str, list[str]] = {
            name: [t for t, names in self.routes.items() if name in names]
            for name in self.consumers
        }
        self.render = render
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.backoff_base_s = backoff_base_s
        self.retention_s = retention_s
        self.lock = LockKey.of("outbox-relay", _stable_id(source))
        self._wake = asyncio.Event()
        self._last_purge = 0.0
        # Per consumer: whether it may have a queue of its own (messages it failed, or
        # that wait behind one of their key). Only the relay holding the lock queues
        # messages, so once a round finds a consumer's queue empty, it stays empty until
        # this relay queues one (or loses the lock); until then rounds skip reading it.
        self._may_have_queue = dict.fromkeys(self.consumers, True)
        # Per consumer whose delivery raised: until when new messages go to its queue
        # unsent, after how many failures in a row, and why.
        self._down_until = dict.fromkeys(self.consumers, float("-inf"))
        self._down_count = dict.fromkeys(self.consumers, 0)
        self._down_error = dict.fromkeys(self.consumers, "")
        self.moved = 0
        # Per consumer: when its pending count was last read (``_observe``).
        self._observed_at = dict.fromkeys(self.consumers, float("-inf"))
        self.observe_interval_s = 1.0
        self._last_pending = dict.fromkeys(self.consumers, 0)
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
            self._may_have_queue = dict.fromkeys(self.consumers, True)
            await self.adopt_old_failures(conn)
            await conn.add_listener(f"{self.source}_outbox", self._on_notify)
            while True:
                self._wake.clear()
                await self.deliver_pending(conn)
                await self._purge_delivered(conn)
                if self.moved:
                    continue
                await wait_at_most(self._wake, self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def deliver_pending(self, conn: asyncpg.Connection) -> int:
        """Deliver one round; returns how many (message, consumer) deliveries were
        acknowledged. ``self.moved`` says how many rows the round dealt with.

        First each consumer's own queue (retries, and messages of keys that have one),
        then the new messages, each sent once to every consumer of its topic, all
        consumers at once. Callers must hold the relay lock (``run`` does); tests may
        call this directly.
        """
        total = 0
        moved = 0
        blocked: dict[str, set[str]] = {}
        for name, consumer in self.consumers.items():
            if not self._may_have_queue[name]:
                blocked[name] = set()
                continue
            delivered = await self._deliver_queued(conn, name, consumer)
            total += delivered
            moved += delivered
            blocked[name] = await self._queued_keys(conn, name)
            if not blocked[name]:
                self._may_have_queue[name] = False
        delivered, tried = await self._deliver_new(conn, blocked)
        total += delivered
        moved += tried
        now = time.monotonic()
        for name in self.consumers:
            # Counting costs a scan of the pending rows and of the dead index entries a
            # sale leaves behind (0.6-1.5 ms of PostgreSQL per seated hold when every
            # round counted): count at most once per ``observe_interval_s`` while messages
            # flow, and at once when a round finds nothing more for a consumer last seen
            # with some pending, so the gauge drops to 0 as soon as it is true.
            idle = tried == 0 and not self._may_have_queue[name]
            due = now - self._observed_at[name] >= self.observe_interval_s
            if due or (idle and self._last_pending[name] > 0):
                self._observed_at[name] = now
                self._last_pending[name] = await self._observe(conn, name)
        self.moved = moved
        return total

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

    async def adopt_old_failures(self, conn: asyncpg.Connection) -> int:
        """Give each unrouted message that failed under the earlier relay (which retried
        a single consumer's messages in place) to that consumer's queue, so that it and
        its key keep their order. Run when this relay takes the lock."""
        single = {t: cs[0] for t, cs in self.routes.items() if len(cs) == 1}
        if not single:
            return 0
        moved = await conn.fetchval(
            f"""WITH moved AS (
                    UPDATE {self.source}.outbox o SET consumer = r.consumer
                    FROM unnest($1::text[], $2::text[]) AS r(topic, consumer)
                    WHERE o.consumer IS NULL AND o.delivered_at IS NULL
                      AND o.attempts > 0 AND o.topic = r.topic
                    RETURNING 1)
                SELECT count(*) FROM moved""",
            list(single),
            list(single.values()),
        )
        return int(moved)

    async def _queued_keys(self, conn: asyncpg.Connection, name: str) -> set[str]:
        rows = await conn.fetch(
            f"""SELECT DISTINCT key FROM {self.source}.outbox
                WHERE consumer = $1 AND delivered_at IS NULL""",
            name,
        )
        return {r["key"] for r in rows}

    async def _deliver_queued(self, conn: asyncpg.Connection, name: str, consumer: Consumer) -> int:
        """Deliver the consumer's own queue: messages it failed (or was not sent, behind
        a failure of their key), each sent under its original id."""
        # Keys waiting on a retry are found once per round (a short list), then joined:
        # a correlated NOT EXISTS per candidate degenerates to pending x batch rows when
        # the planner has no statistics yet (a freshly filled outbox, mid flash sale).
        rows = await conn.fetch(
            f"""WITH blocked AS MATERIALIZED (
                    SELECT key, min(id) AS first_id FROM {self.source}.outbox
                    WHERE consumer = $1 AND delivered_at IS NULL AND next_attempt_at > now()
                    GROUP BY key),
                candidates AS (
                    SELECT * FROM {self.source}.outbox
                    WHERE consumer = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
                    ORDER BY id LIMIT $2)
                SELECT o.id, coalesce(o.origin_id, o.id) AS sent_id, o.topic, o.key,
                       o.version, o.payload::text AS payload, o.created_at, o.attempts
                FROM candidates o
                LEFT JOIN blocked b ON b.key = o.key
                WHERE b.key IS NULL OR o.id < b.first_id
                ORDER BY o.id""",
            name,
            self.batch_size,
        )
        if not rows:
            return 0
        messages, unrenderable = self._rendered(rows)
        outcome = await self._send(name, consumer, messages)
        self._note_health(name, outcome, time.monotonic())
        if unrenderable:
            outcome.error = next(iter(unrenderable.values()))
        done: list[int] = []
        failed: list[int] = []
        for r, result in zip(rows, outcome.per_row(rows), strict=True):
            if result == "acknowledged":
                done.append(r["id"])
            elif result == "failed":
                failed.append(r["id"])
            # "deferred": left as it is, for the next round, at once
        if done:
            await conn.execute(
                f"UPDATE {self.source}.outbox SET delivered_at = now(), last_error = NULL "
                "WHERE id = ANY($1::bigint[])",
                done,
            )
        if failed:
            attempts = {r["id"]: r["attempts"] for r in rows}
            delays = [self._backoff(attempts[i] + 1) for i in failed]
            await conn.execute(
                f"""UPDATE {self.source}.outbox o
                    SET attempts = o.attempts + 1,
                        next_attempt_at = now() + make_interval(secs => f.delay),
                        last_error = $3
                    FROM unnest($1::bigint[], $2::float8[]) AS f(id, delay)
                    WHERE o.id = f.id""",
                failed,
                delays,
                outcome.error,
            )
            self._warn(name, len(failed), outcome.error)
        OUTBOX_DELIVERIES.labels(self.source, name, "delivered").inc(len(done))
        OUTBOX_DELIVERIES.labels(self.source, name, "failed").inc(len(failed))
        return len(done)

    async def _deliver_new(
        self, conn: asyncpg.Connection, blocked: Mapping[str, set[str]]
    ) -> tuple[int, int]:
        """Send each new message once to every consumer of its topic, all consumers at
        once, then mark it delivered. A consumer that did not acknowledge it (or has
        earlier messages of its key queued, or is backing off) gets a copy of it in its
        own queue, in the same statement, so nothing is lost and each key keeps its
        order per consumer."""
        rows = await conn.fetch(
            f"""SELECT id, id AS sent_id, topic, key, version, payload::text AS payload,
                       created_at, attempts
                FROM {self.source}.outbox
                WHERE consumer IS NULL AND delivered_at IS NULL AND topic = ANY($1::text[])
                ORDER BY id LIMIT $2""",
            list(self.routes),
            self.batch_size,
        )
        if not rows:
            return 0, 0
        messages, unrenderable = self._rendered(rows)
        rendered = {m.id: m for m in messages}
        plans: dict[str, list[asyncpg.Record]] = {}
        sends = []
        now = time.monotonic()
        for name, consumer in self.consumers.items():
            mine = [r for r in rows if name in self.routes[r["topic"]]]
            if not mine:
                continue
            plans[name] = mine
            if now < self._down_until[name]:
                sends.append(_idle(Outcome(set(), self._down_error[name], down=True)))
                continue
            held = blocked.get(name, set())
            sends.append(
                self._send(
                    name,
                    consumer,
                    [
                        rendered[r["id"]]
                        for r in mine
                        if r["id"] in rendered and r["key"] not in held
                    ],
                )
            )
        outcomes = dict(zip(plans, await asyncio.gather(*sends), strict=True))
        copies: list[tuple[str, int, int, float, str | None]] = []
        total = 0
        for name, mine in plans.items():
            outcome = outcomes[name]
            if unrenderable:
                outcome.error = next(iter(unrenderable.values()))
            done = failed = 0
            queued_before = len(copies)
            for r, result in zip(mine, outcome.per_row(mine, blocked.get(name)), strict=True):
                if result == "acknowledged":
                    done += 1
                elif result == "failed":
                    failed += 1
                    delay = self._backoff(1)
                    copies.append((name, r["id"], 1, delay, outcome.error))
                elif outcome.down:  # not sent: it backs off with the consumer
                    delay = max(0.0, self._down_until[name] - now)
                    copies.append((name, r["id"], 0, delay, outcome.error))
                else:  # deferred, or behind its key's queue: sent again from the queue
                    copies.append((name, r["id"], 0, 0.0, None))
            self._note_health(name, outcome, now)
            if failed:
                self._warn(name, failed, outcome.error)
            if len(copies) > queued_before:
                self._may_have_queue[name] = True
            OUTBOX_DELIVERIES.labels(self.source, name, "delivered").inc(done)
            OUTBOX_DELIVERIES.labels(self.source, name, "failed").inc(failed)
            total += done
        await conn.execute(
            f"""WITH queued AS (
                    INSERT INTO {self.source}.outbox (consumer, origin_id, topic, key, version,
                        payload, created_at, attempts, next_attempt_at, last_error)
                    SELECT f.consumer, o.id, o.topic, o.key, o.version, o.payload,
                           o.created_at, f.attempts,
                           now() + make_interval(secs => f.delay), f.error
                    FROM unnest($2::text[], $3::bigint[], $4::int[], $5::float8[], $6::text[])
                        WITH ORDINALITY AS f(consumer, origin, attempts, delay, error, n)
                    JOIN {self.source}.outbox o ON o.id = f.origin
                    ORDER BY f.n
                    RETURNING 1)
                UPDATE {self.source}.outbox SET delivered_at = now()
                WHERE id = ANY($1::bigint[])""",
            [r["id"] for r in rows],
            [c[0] for c in copies],
            [c[1] for c in copies],
            [c[2] for c in copies],
            [c[3] for c in copies],
            [c[4] for c in copies],
        )
        return total, len(rows)

    def _rendered(self, rows: list[asyncpg.Record]) -> tuple[list[OutboxMessage], dict[str, str]]:
        """Render each row once; per key, only what comes before an unrenderable message
        (a stored state its contract refuses: a producer bug, logged)."""
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
            except Exception as exc:
                unrenderable[r["key"]] = f"cannot render {r['topic']}: {exc}"[:500]
                log.error("%s outbox message %s: %s", self.source, r["id"], unrenderable[r["key"]])
                continue
            messages.append(
                OutboxMessage(
                    r["sent_id"], r["topic"], r["key"], r["version"], payload, r["created_at"]
                )
            )
        return messages, unrenderable

    async def _send(self, name: str, consumer: Consumer, messages: list[OutboxMessage]) -> Outcome:
        if not messages:
            return Outcome(set(), "not sent")
        started = time.perf_counter()
        try:
            acknowledged = await consumer.deliver(self.source, messages)
            outcome = Outcome(
                set(acknowledged),
                "not acknowledged by the consumer",
                deferred=set(getattr(acknowledged, "deferred", set())),
                sent={m.id for m in messages},
            )
        except Exception as exc:
            outcome = Outcome(set(), f"{type(exc).__name__}: {exc}"[:500], raised=True)
        OUTBOX_DELIVERY_DURATION.labels(self.source, name).observe(time.perf_counter() - started)
        return outcome

    def _note_health(self, name: str, outcome: Outcome, now: float) -> None:
        """A consumer whose delivery raised (down, unreachable) is not sent new messages
        until its backoff passes: they go straight to its queue, and its queue's retries
        find out when it is back."""
        if outcome.raised:
            self._down_count[name] += 1
            self._down_until[name] = now + self._backoff(self._down_count[name])
            self._down_error[name] = outcome.error
        elif outcome.sent:
            self._down_count[name] = 0
            self._down_until[name] = float("-inf")

    def _backoff(self, attempts: int) -> float:
        return backoff_seconds(attempts, self.backoff_base_s, self.max_backoff_s)

    def _warn(self, name: str, count: int, error: str) -> None:
        log.warning(
            "%s outbox: %d message(s) to %s not delivered: %s", self.source, count, name, error
        )

    async def _observe(self, conn: asyncpg.Connection, name: str) -> int:
        row = await conn.fetchrow(
            f"""SELECT count(*) AS pending,
                       coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag
                FROM {self.source}.outbox
                WHERE (consumer = $1 OR (consumer IS NULL AND topic = ANY($2::text[])))
                  AND delivered_at IS NULL""",
            name,
            self._topics[name],
        )
        OUTBOX_PENDING.labels(self.source, name).set(row["pending"])
        OUTBOX_LAG.labels(self.source, name).set(float(row["lag"]))
        return int(row["pending"])

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
