"""Background loops stop when cancelled: a service's shutdown never hangs on one.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives as the awaited
event is set (CPython gh-86296). The inventory publisher and the outbox relay waited
that way, so a shutdown that met a wake-up hung for good: in the suite, as a fixture
teardown that ran into the 300 s timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from evently.core.tasks import background_task, wait_at_most

TRIES = 50


async def wake_and_cancel(task: asyncio.Task, event: asyncio.Event) -> bool:
    """Set ``event`` and cancel ``task`` in the same step; whether the task then stops."""
    await asyncio.sleep(0.001)  # the task is waiting on the event
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    if not done:  # leave nothing running behind the test
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 1.0)
    return bool(done)


async def test_a_loop_on_wait_at_most_stops_when_cancelled_as_it_wakes() -> None:
    async def loop(event: asyncio.Event) -> None:
        while True:
            await wait_at_most(event, 30.0)
            event.clear()

    for _ in range(TRIES):
        event = asyncio.Event()
        assert await wake_and_cancel(asyncio.create_task(loop(event)), event)


async def test_wait_at_most_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_at_most(event, 0.01) is False
    event.set()
    assert await wait_at_most(event, 0.01) is True


async def test_a_task_that_ignores_its_cancellation_cannot_hang_the_shutdown(caplog) -> None:
    release = asyncio.Event()

    async def stubborn(_app: web.Application) -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    ctx = background_task("stubborn", stubborn, stop_timeout_s=0.2)(web.Application())
    await anext(ctx)
    await asyncio.sleep(0)
    caplog.set_level(logging.ERROR, logger="evently.tasks")
    with contextlib.suppress(StopAsyncIteration):
        await asyncio.wait_for(anext(ctx), 5.0)  # the shutdown goes on
    assert "stubborn did not stop" in caplog.text
    release.set()
    (left,) = [t for t in asyncio.all_tasks() if t.get_name() == "stubborn"]
    left.cancel()  # now it ends
    await asyncio.wait({left}, timeout=1.0)
    assert left.done()
