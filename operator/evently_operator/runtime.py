"""What the operator holds open while it runs, opened at start-up and closed at exit.

A database pool (for the events repository), an HTTP session (bookings' internal API),
a Kubernetes client (scaling, peering objects), one scale controller per target, the
members of the level sweep and the sweep's task, and the probe server. Also kopf's own
settings, derived from ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import asyncpg
import kopf
from aiohttp import web

from evently.core.db import create_pool, keep_session_state
from evently.events.bookings_client import BookingsClient
from evently_operator.config import OperatorSettings
from evently_operator.kubeapi import KubeApi, KubeApiError, login
from evently_operator.levels import Levels
from evently_operator.metrics import start_probe_server
from evently_operator.resource import ANNOTATION_PREFIX, FINALIZER, KOPF_STATUS
from evently_operator.scale_targets import ScaleControllers
from evently_operator.webhook_server import start_webhook_server

log = logging.getLogger("evently.operator")


@dataclass
class Runtime:
    settings: OperatorSettings
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    bookings: BookingsClient
    kube: KubeApi
    scalers: ScaleControllers
    levels: Levels = field(default_factory=Levels)
    # (namespace, name) -> the waiting room's queue length, as the last sweep read it.
    queue_lengths: dict[tuple[str, str], int] = field(default_factory=dict)
    probe: web.AppRunner | None = None
    # The admission webhooks' server (webhook_server.py), when WEBHOOK_PORT is set.
    webhooks: web.AppRunner | None = None
    sweeper: asyncio.Task[None] | None = None

    @property
    def probe_port(self) -> int | None:
        """The port the probe server listens on (``PORT=0`` picks a free one)."""
        if self.probe is None or not self.probe.addresses:
            return None
        return int(self.probe.addresses[0][1])

    async def database_ready(self) -> bool:
        try:
            async with asyncio.timeout(2):
                await self.pool.fetchval("SELECT 1")
        except Exception:
            return False
        return True


class StatusDiffBase(kopf.StatusDiffBaseStorage):
    """kopf's last handled spec, kept in ``status.kopf``: written in the same status
    PATCH as the handler's own fields, so handling a creation or a spec change costs no
    PATCH of the object itself (and no watch event for it). Objects handled by an older
    version have it in an annotation instead: it is read from there until replaced."""

    def __init__(self) -> None:
        super().__init__(field=f"{KOPF_STATUS}.last-handled-configuration")
        self.legacy = kopf.AnnotationsDiffBaseStorage(
            prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
        )

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return super().fetch(body=body) or self.legacy.fetch(body=body)

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        """The same essence as kopf's, without deep-copying what it then throws away.

        kopf runs this on every watch event and starts by deep-copying the whole body,
        ``metadata.managedFields`` and the status included; here only the fields the
        essence keeps are handed over (all of it if a handler watches metadata/status).
        """
        fields = list(extra_fields or ())
        if any(field[0] in ("metadata", "status") for field in fields):
            return super().build(body=body, extra_fields=fields)
        meta = body.get("metadata") or {}
        slim = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        slim["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return super().build(body=cast(kopf.Body, slim), extra_fields=fields)


def kopf_settings(settings: OperatorSettings, identity: str) -> kopf.OperatorSettings:
    """kopf's settings: our finalizer, its bookkeeping in ``status.kopf``, peering
    lifetime, and our name (``identity``: this replica) on the Kubernetes Events we post."""
    result = kopf.OperatorSettings()
    result.persistence.finalizer = FINALIZER
    # A handler's progress is stored only while it is retried (purged, so never written,
    # when it succeeds at once); the last handled spec goes with the status patch.
    result.persistence.progress_storage = kopf.StatusProgressStorage(
        field=f"{KOPF_STATUS}.progress"
    )
    result.persistence.diffbase_storage = StatusDiffBase()
    result.peering.lifetime = settings.peering_lifetime_s
    # A stopping worker is cancelled at once (its daemon has a cancellation timeout) and
    # given half a second to finish; should anything still linger, look again every
    # second, not every minute.
    result.background.instant_exit_timeout = 0.5
    result.background.cancellation_polling = 1.0
    # Only explicit kopf.info()/kopf.warn() calls become Kubernetes Events, not every log line.
    result.posting.loggers = False
    # `kubectl describe` shows who said it ("From"): the operator, not the framework.
    result.posting.reporting_component = "evently-operator"
    result.posting.reporting_instance = identity
    result.watching.server_timeout = 300
    result.watching.client_timeout = 330
    return result


async def ensure_peering_objects(kube: KubeApi, settings: OperatorSettings) -> None:
    """Create the KopfPeering (per watched namespace) or ClusterKopfPeering we use.

    Fails with a clear message when the kopf.dev CRDs are missing (crds/ has them).
    """
    body = {"metadata": {"name": settings.peering_name}}
    if settings.watch_namespaces:
        targets = [
            (f"/apis/kopf.dev/v1/namespaces/{ns}/kopfpeerings", "KopfPeering")
            for ns in settings.watch_namespaces
        ]
    else:
        targets = [("/apis/kopf.dev/v1/clusterkopfpeerings", "ClusterKopfPeering")]
    for path, kind in targets:
        try:
            await kube.create(path, {"apiVersion": "kopf.dev/v1", "kind": kind, **body})
        except KubeApiError as exc:
            if exc.status == 404:
                raise kopf.PermanentError(
                    f"{kind} is not served: apply crds/kopf.dev_peerings.yaml, "
                    "or set STANDALONE=true for a single replica"
                ) from exc
            raise


def own_identity() -> str:
    """This process's name among the peers: its pod (or host) and process id."""
    return f"{os.environ.get('POD_ID') or socket.gethostname()}-{os.getpid()}"


def _peering_paths(settings: OperatorSettings) -> list[str]:
    if settings.watch_namespaces:
        return [
            f"/apis/kopf.dev/v1/namespaces/{ns}/kopfpeerings/{settings.peering_name}"
            for ns in settings.watch_namespaces
        ]
    return [f"/apis/kopf.dev/v1/clusterkopfpeerings/{settings.peering_name}"]


async def settle_peering(kube: KubeApi, settings: OperatorSettings, identity: str) -> None:
    """Announce this replica in the peering objects, then wait ``PEERING_SETTLE_S``.

    kopf acts as soon as its first look at the peering object shows no stronger peer.
    Two replicas starting together (every Recreate rollout) could each look before the
    other announced itself, and both act for a moment. Announced early, each one's first
    look shows the other, and only the stronger acts; the wait gives a replica starting
    a little later the time to announce itself too.
    """
    peer = {
        "priority": settings.effective_peering_priority,
        "lifetime": settings.peering_lifetime_s,
        "lastseen": dt.datetime.now(dt.UTC).isoformat(),
    }
    for path in _peering_paths(settings):
        await kube.merge_patch(path, {"status": {identity: peer}})
    log.info("announced to peers; settling", extra={"seconds": settings.peering_settle_s})
    await asyncio.sleep(settings.peering_settle_s)


async def start_runtime(settings: OperatorSettings, kopf_config: kopf.OperatorSettings) -> Runtime:
    """Open everything; the probe server answers from here on.

    Any failure stops the operator at once (kopf.PermanentError) with the reason, so a
    pod crash-loops visibly instead of idling unready.
    """
    try:
        return await _start_runtime(settings, kopf_config)
    except kopf.PermanentError:
        raise
    except Exception as exc:
        raise kopf.PermanentError(f"cannot start: {exc}") from exc


async def _start_runtime(settings: OperatorSettings, kopf_config: kopf.OperatorSettings) -> Runtime:
    # Its code leaves no session state on a pooled connection (SET LOCAL only; the outbox
    # relay's lock is on a connection of its own): no reset query per release.
    pool = await create_pool(settings, "evently-operator", reset=keep_session_state)
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.bookings_timeout_s, connect=2)
    )
    kube = KubeApi(login(kopf_config))
    runtime = Runtime(
        settings=settings,
        pool=pool,
        http=http,
        bookings=BookingsClient(http, settings.bookings_url, settings.internal_api_key),
        kube=kube,
        scalers=ScaleControllers(kube, settings.reconcile_interval_s),
    )
    try:
        if not settings.standalone:
            await ensure_peering_objects(kube, settings)
        runtime.probe = await start_probe_server(
            settings.host, settings.port, runtime.database_ready
        )
        if settings.webhook_port is not None:
            runtime.webhooks = await start_webhook_server(kube, settings)
    except BaseException:
        await stop_runtime(runtime)
        raise
    log.info(
        "operator started",
        extra={
            "namespaces": list(settings.watch_namespaces) or "all",
            "peering": None if settings.standalone else settings.peering_name,
            "priority": settings.effective_peering_priority,
            "port": runtime.probe_port,
        },
    )
    return runtime


async def stop_runtime(runtime: Runtime) -> None:
    if runtime.sweeper is not None:
        runtime.sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runtime.sweeper
    if runtime.webhooks is not None:
        await runtime.webhooks.cleanup()
    if runtime.probe is not None:
        await runtime.probe.cleanup()
    await runtime.kube.close()
    await runtime.http.close()
    await runtime.pool.close()
