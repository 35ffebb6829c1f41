"""kopf handlers: decorators only, each calling one plain function.

Create, update (of the spec) and resume react to changes; the timer is the level-based
pass that repairs drift and follows the clock (docs/operator.md). All of them call
``operations.reconcile``; deletion calls ``operations.finalize`` behind our finalizer.
"""

from __future__ import annotations

from typing import Any

import kopf

from evently_operator import operations
from evently_operator.config import OperatorSettings
from evently_operator.kubeapi import login
from evently_operator.resource import GROUP, PLURAL, VERSION
from evently_operator.runtime import start_runtime, stop_runtime

EVENTS = (GROUP, VERSION, PLURAL)


def register(registry: kopf.OperatorRegistry, config: OperatorSettings) -> None:
    """Add the operator's handlers to ``registry`` (timer interval from ``config``)."""

    @kopf.on.startup(id="open-runtime", registry=registry)
    async def open_runtime(memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any) -> None:
        memo.runtime = await start_runtime(config, settings)

    @kopf.on.cleanup(id="close-runtime", registry=registry)
    async def close_runtime(memo: kopf.Memo, **_: Any) -> None:
        if "runtime" in memo:
            await stop_runtime(memo.runtime)

    @kopf.on.login(id="credentials", registry=registry)
    def credentials(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return login(settings)

    @kopf.index(*EVENTS, id="scaling_windows", registry=registry)
    def scaling_windows(body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return operations.scaling_entry(body)

    @kopf.on.create(*EVENTS, id="reconcile-created", registry=registry)
    async def created(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime,
            body,
            patch,
            trigger="create",
            windows=kw["scaling_windows"],
            lock=operations.object_lock(memo),
        )

    @kopf.on.update(*EVENTS, id="reconcile-updated", field="spec", registry=registry)
    async def updated(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime,
            body,
            patch,
            trigger="update",
            windows=kw["scaling_windows"],
            lock=operations.object_lock(memo),
        )

    @kopf.on.resume(*EVENTS, id="reconcile-resumed", registry=registry)
    async def resumed(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime,
            body,
            patch,
            trigger="resume",
            windows=kw["scaling_windows"],
            lock=operations.object_lock(memo),
        )

    @kopf.timer(
        *EVENTS,
        id="level-pass",
        interval=config.reconcile_interval_s,
        initial_delay=config.reconcile_interval_s,
        registry=registry,
    )
    async def level_pass(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kw: Any) -> None:
        await operations.reconcile(
            memo.runtime,
            body,
            patch,
            trigger="timer",
            windows=kw["scaling_windows"],
            lock=operations.object_lock(memo),
        )

    @kopf.on.delete(*EVENTS, id="cancel-deleted", registry=registry)
    async def deleted(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
        await operations.finalize(
            memo.runtime, body, windows=kw["scaling_windows"], lock=operations.object_lock(memo)
        )
