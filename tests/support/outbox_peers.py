"""Peers for testing the outbox machinery (``core/outbox.py``, ``core/inbox.py``).

* ``outbox_schema_sql``: the outbox and inbox tables exactly as docs/outbox.md gives
  them, read from that file, so the documented DDL is what the tests run against;
* ``RecordingConsumer``: an in-process consumer (the relay's peer) that records what it
  receives, can refuse keys, raise, drop acknowledgements, and measures how many
  deliveries are in flight at once;
* ``inbox_app``: a minimal aiohttp app serving the REAL ``POST /internal/inbox`` from
  ``core.inbox``, applying messages with the handlers a test gives it.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import asyncpg
from aiohttp import web

from evently.core.api import Api
from evently.core.app import SETTINGS
from evently.core.db import POOL
from evently.core.inbox import InboxHandler, add_inbox_route
from evently.core.middleware import SERVICE_NAME, problem_errors
from evently.core.outbox import OutboxMessage

OUTBOX_DOC = Path(__file__).resolve().parents[2] / "docs" / "outbox.md"


def outbox_schema_sql(schema: str) -> str:
    """The documented DDL (every ```sql block of docs/outbox.md) for ``schema``."""
    blocks = re.findall(r"```sql\n(.*?)```", OUTBOX_DOC.read_text(), flags=re.S)
    assert len(blocks) == 2, "docs/outbox.md should give the outbox and the inbox DDL"
    return f"CREATE SCHEMA {schema};\n" + "\n".join(blocks).replace("<schema>", schema)


async def create_outbox_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(outbox_schema_sql(schema))
    finally:
        await conn.close()


@dataclass
class InFlight:
    """Counts deliveries in progress across consumers; remembers the most at once."""

    now: int = 0
    most: int = 0

    def enter(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def leave(self) -> None:
        self.now -= 1


@dataclass
class RecordingConsumer:
    """An in-process consumer that records each batch it is handed.

    ``reject_keys``: messages with these keys are not acknowledged;
    ``raise_error``: every delivery raises (a consumer that is down);
    ``skip_ack``: ids received but, like a lost response, not acknowledged;
    ``delay_s``: time each delivery takes; ``in_flight``: shared concurrency counter;
    ``calls``: how many deliveries it was handed, failed ones included.
    """

    name: str = "recorder"
    reject_keys: set[str] = field(default_factory=set)
    raise_error: bool = False
    skip_ack: set[int] = field(default_factory=set)
    delay_s: float = 0.0
    in_flight: InFlight = field(default_factory=InFlight)
    batches: list[list[OutboxMessage]] = field(default_factory=list)
    delivered: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0

    @property
    def received(self) -> list[OutboxMessage]:
        return [m for batch in self.batches for m in batch]

    @property
    def acknowledged(self) -> list[OutboxMessage]:
        return [
            m for m in self.received if m.key not in self.reject_keys and m.id not in self.skip_ack
        ]

    async def deliver(self, source: str, messages: list[OutboxMessage]) -> set[int]:
        self.in_flight.enter()
        self.calls += 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.raise_error:
                raise ConnectionError(f"{self.name} is down")
            self.batches.append(list(messages))
            self.delivered.set()
            return {
                m.id
                for m in messages
                if m.key not in self.reject_keys and m.id not in self.skip_ack
            }
        finally:
            self.in_flight.leave()


def inbox_app(
    pool: asyncpg.Pool, schema: str, handlers: Mapping[str, InboxHandler], api_key: str
) -> web.Application:
    """An app serving core.inbox's ``POST /internal/inbox`` for ``schema``."""
    app = web.Application(middlewares=[problem_errors])
    app[SERVICE_NAME] = "inbox-test"
    app[SETTINGS] = SimpleNamespace(internal_api_key=api_key)
    app[POOL] = pool
    api = Api("inbox-test")
    add_inbox_route(api, schema, handlers)
    api.register(app)
    return app


async def wait_until(condition, timeout_s: float = 10.0, step_s: float = 0.02) -> None:
    """Poll ``condition`` (sync or async) until true, bounded by ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(step_s)
