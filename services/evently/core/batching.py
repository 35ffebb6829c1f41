"""Group commit for the hot path: concurrent requests on one key share a transaction.

A flash sale serialises on one event's lock, and every transaction holds it until its
commit is flushed to disk; one booking per transaction can never go faster than one
flush per booking. ``Batcher`` lets concurrent requests for the same event ride in
one database call instead: while a batch is in the database, the next one gathers, and
it is sent the moment the previous one returns. An idle system sends batches of one,
so nobody waits for a timer. Each request still gets its own outcome, and a booking is
acknowledged only after the transaction that made it committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """Runs submitted items through ``run_batch`` in batches of at most ``max_batch``."""

    def __init__(
        self, run_batch: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return self._draining is None and not self._pending

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._run_batch([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):  # checked above
                    if not future.done():
                        future.set_result(result)
        finally:
            self._draining = None


Key = TypeVar("Key", bound=Hashable)


class Batchers(Generic[Key, Item, Result]):
    """One ``Batcher`` per key (e.g. per event), created on demand, dropped when idle."""

    def __init__(
        self,
        run_batch: Callable[[Key, list[Item]], Awaitable[list[Result]]],
        max_batch: int,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._batchers: dict[Key, Batcher[Item, Result]] = {}

    async def submit(self, key: Key, item: Item) -> Result:
        batcher = self._batchers.get(key)
        if batcher is None:

            async def run(items: list[Item]) -> list[Result]:
                return await self._run_batch(key, items)

            batcher = self._batchers[key] = Batcher(run, self._max_batch)
        try:
            return await batcher.submit(item)
        finally:
            if batcher.idle and self._batchers.get(key) is batcher:
                del self._batchers[key]
