"""The event loop an Evently process runs on: asyncio's own, or uvloop with
``EVENT_LOOP=uvloop``.

uvloop (libuv, its transports and callbacks in C) was the performance issue's first
candidate for the services' CPU per request. Measured on ``make bench`` it did not cut
the bookings service's CPU per booking (docs/benchmarks.md, issue 15), so asyncio stays
the default; the switch remains for measuring it again on other hardware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
EventLoopName = Literal["asyncio", "uvloop"]
EVENT_LOOPS: tuple[EventLoopName, ...] = ("asyncio", "uvloop")


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop constructor for ``name`` (None: asyncio's default)."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def run(main: Coroutine[Any, Any, T], name: EventLoopName = "asyncio") -> T:
    """``asyncio.run(main)`` on the named event loop."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)
