"""Each resource's worker (a kopf daemon) and the level sweep that wakes them.

A worker sleeps until the sweep (``levels.py``) finds its resource needs a pass, runs
``operations.reconcile`` and writes the status patch itself (kopf applies patches only
for handlers). When its resource is deleted or this replica pauses, an idle worker
returns at once; a busy one is cancelled by kopf at once (the daemon's cancellation
timeout): a pass is level-based, so a cancelled one is simply done again later, and
deletions never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import kopf

from evently.events import repository
from evently_operator import metrics
from evently_operator.kubeapi import KubeApiError
from evently_operator.levels import Member
from evently_operator.operations import WindowsIndex, object_memory, reconcile, utcnow
from evently_operator.queue_lengths import refresh_queue_lengths
from evently_operator.resource import GROUP, PLURAL, VERSION, managed_by
from evently_operator.runtime import Runtime

log = logging.getLogger("evently.operator")


def status_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"


async def work(
    runtime: Runtime,
    body: kopf.Body,
    memo: Any,
    stopped: kopf.DaemonStopped,
    *,
    windows: WindowsIndex,
) -> None:
    """Run a level pass whenever the sweep asks for one, until kopf stops this."""
    member = runtime.levels.join(body, object_memory(memo).written)
    # kopf's stop flag wakes the worker too, so an idle one exits within a loop cycle.
    watch = asyncio.ensure_future(stopped.wait())
    watch.add_done_callback(lambda _: member.wake.set())
    try:
        while True:
            await member.wake.wait()
            if stopped:
                return
            member.wake.clear()
            patch = kopf.Patch()
            try:
                await reconcile(runtime, body, patch, trigger="level", windows=windows, memo=memo)
                member.failed = False
            except Exception as exc:
                # Retried at the next sweep; the patch still says what went wrong.
                member.failed = True
                log.warning("level pass for %s/%s failed: %s", member.namespace, member.name, exc)
            if patch:
                await _write_status(runtime, member.namespace, member.name, patch)
    finally:
        watch.cancel()
        runtime.levels.leave(member)
        object_memory(memo).written.clear()


async def _write_status(runtime: Runtime, namespace: str, name: str, patch: kopf.Patch) -> None:
    try:
        await runtime.kube.merge_patch(status_path(namespace, name), {"status": dict(patch.status)})
    except (KubeApiError, OSError, TimeoutError) as exc:
        metrics.ERRORS.labels("kubernetes").inc()
        log.warning("could not write the status of %s/%s: %s", namespace, name, exc)


async def sweep_once(runtime: Runtime, windows: WindowsIndex) -> int:
    """Compare every member with its row, clock, figures and scale; wake who needs it."""
    members = list(runtime.levels.members.values())
    if not members:
        return 0
    started = time.perf_counter()
    keys = [managed_by(m.namespace, m.name) for m in members]
    async with runtime.pool.acquire() as conn:
        states = await repository.managed_states(conn, keys)
    woken = runtime.levels.sweep(states, windows, runtime.scalers, utcnow())
    woken += await sweep_queue_lengths(runtime, members)
    metrics.SWEEP_DURATION.observe(time.perf_counter() - started)
    metrics.SWEEP_WAKES.inc(woken)
    return woken


async def sweep_queue_lengths(runtime: Runtime, members: list[Member]) -> int:
    """Read the queue length of every member with an enabled waiting room and wake those
    whose status shows another (``queue_lengths.py``); returns how many were woken."""
    rooms: dict[tuple[str, str], int] = {}
    shown: dict[tuple[str, str], object] = {}
    for member in members:
        spec = member.spec()
        status = {**(member.body.get("status") or {}), **member.written}
        if spec is None or spec.waiting_room is None or not spec.waiting_room.enabled:
            continue
        if isinstance(status.get("eventId"), int):
            rooms[member.key] = status["eventId"]
            shown[member.key] = (status.get("waitingRoom") or {}).get("queueLength")
    settings = runtime.settings
    runtime.queue_lengths = await refresh_queue_lengths(
        runtime.http,
        settings.waiting_room_url,
        settings.waiting_room_timeout_s,
        rooms,
        runtime.queue_lengths,
    )
    before = runtime.levels.woken
    for member in members:
        length = runtime.queue_lengths.get(member.key)
        if member.key in rooms and length is not None and shown[member.key] != length:
            runtime.levels.wake(member, "queue length")
    return runtime.levels.woken - before


async def sweep_forever(runtime: Runtime, windows: WindowsIndex) -> None:
    """One sweep every ``RECONCILE_INTERVAL_S`` for as long as the operator runs."""
    interval = runtime.settings.reconcile_interval_s
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_once(runtime, windows)
        except Exception as exc:
            metrics.ERRORS.labels("database").inc()
            log.warning("level sweep failed: %s", exc)
