"""kopf handlers: decorators only, each calling one plain function.

Create and update (of the spec) react to changes; each resource's worker (a daemon)
runs the level passes the sweep asks for (docs/operator.md). All of them call
``operations.reconcile``; deletion calls ``operations.finalize`` behind our finalizer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from evently_operator import operations, workers
from evently_operator.config import OperatorSettings
from evently_operator.kubeapi import login
from evently_operator.resource import GROUP, PLURAL, VERSION
from evently_operator.runtime import settle_peering, start_runtime, stop_runtime

EVENTS = (GROUP, VERSION, PLURAL)


def register(registry: kopf.OperatorRegistry, config: OperatorSettings, identity: str) -> None:
    """Add the operator's handlers to ``registry`` (``identity``: this peer's name)."""

    @kopf.on.startup(id="open-runtime", registry=registry)
    async def open_runtime(memo: kopf.Memo, settings: kopf.OperatorSettings, **kw: Any) -> None:
        memo.runtime = await start_runtime(config, settings)
        memo.runtime.sweeper = asyncio.create_task(
            workers.sweep_forever(memo.runtime, kw["scaling_windows"]), name="level sweep"
        )
        if not config.standalone:
            await settle_peering(memo.runtime.kube, config, identity)

    @kopf.on.cleanup(id="close-runtime", registry=registry)
    async def close_runtime(memo: kopf.Memo, **_: Any) -> None:
        if "runtime" in memo:
            await stop_runtime(memo.runtime)

    @kopf.on.login(id="credentials", registry=registry)
    def credentials(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return login(settings)

    # async although it never awaits: kopf runs plain functions in a thread pool, a thread
    # hop (and GIL contention) on every watch event for a cached dictionary lookup.
    @kopf.index(*EVENTS, id="scaling_windows", registry=registry)
    async def scaling_windows(body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return operations.scaling_entry(body)

    @kopf.on.create(*EVENTS, id="reconcile-created", registry=registry)
    async def created(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime, body, patch, trigger="create", windows=kw["scaling_windows"], memo=memo
        )

    @kopf.on.update(*EVENTS, id="reconcile-updated", field="spec", registry=registry)
    async def updated(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime, body, patch, trigger="update", windows=kw["scaling_windows"], memo=memo
        )

    # No timers: an idle resource costs nothing until the sweep wakes its worker. The
    # cancellation timeout makes kopf cancel a worker stopped mid-pass at once, and look
    # again within a second if the cancellation has not finished yet.
    @kopf.daemon(*EVENTS, id="level-worker", cancellation_timeout=1.0, registry=registry)
    async def worker(
        body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **kw: Any
    ) -> None:
        await workers.work(memo.runtime, body, memo, stopped, windows=kw["scaling_windows"])

    # The admission webhooks (/validate-event, /add-finalizer) are served by the
    # operator's own server (webhook_server.py, started with the runtime), not by kopf.

    @kopf.on.delete(*EVENTS, id="cancel-deleted", registry=registry)
    async def deleted(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
        await operations.finalize(memo.runtime, body, windows=kw["scaling_windows"], memo=memo)
