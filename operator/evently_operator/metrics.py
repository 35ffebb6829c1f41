"""The operator's Prometheus metrics and its small HTTP server.

``GET /metrics`` (Prometheus text), ``GET /healthz`` (the event loop answers) and
``GET /readyz`` (the database answers) on ``HOST:PORT``. Labels are bounded: triggers,
outcomes, stages, phases and kinds are fixed sets; no resource names.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from evently.core.metrics import metrics_handler
from evently_operator.phases import Phase

RECONCILES = Counter(
    "evently_operator_reconciles_total",
    "Reconciliations of Event resources, by trigger (create, update, level, delete) and "
    "outcome (ok, invalid, error).",
    ["trigger", "outcome"],
)
ERRORS = Counter(
    "evently_operator_errors_total",
    "Failed calls during reconciliation, by stage (database, bookings, kubernetes).",
    ["stage"],
)
DURATION = Histogram(
    "evently_operator_reconcile_duration_seconds",
    "Time to reconcile one Event resource, by trigger.",
    ["trigger"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_BY_PHASE = Gauge(
    "evently_operator_events",
    "Event resources this replica reconciles, by phase.",
    ["phase"],
)
DRIFT_REPAIRS = Counter(
    "evently_operator_drift_repairs_total",
    "Rows put back to match their resource, by what happened to them (edited, deleted).",
    ["kind"],
)
SCALE_CHANGES = Counter(
    "evently_operator_scale_changes_total",
    "Replica changes made for sales, by target kind (Deployment, HorizontalPodAutoscaler) "
    "and direction (up, down).",
    ["kind", "direction"],
)

SCALE_PASSES = Counter(
    "evently_operator_scale_passes_total",
    "Applications of the scaling rule to a target: one per target per interval or change, "
    "however many Events claim it.",
)
SWEEP_DURATION = Histogram(
    "evently_operator_sweep_duration_seconds",
    "Time of one level sweep over every Event this replica manages (one query, then "
    "comparisons in memory).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SWEEP_WAKES = Counter(
    "evently_operator_sweep_wakes_total",
    "Level passes the sweep asked for (a row, the clock, figures or scaling changed).",
)

for _phase in Phase:
    EVENTS_BY_PHASE.labels(_phase.value)

_phases: dict[tuple[str, str], str] = {}


def record_phase(namespace: str, name: str, phase: str | None) -> None:
    """Remember a resource's phase (None: forget it) and move the per-phase gauge.

    Constant time: with 10,000 resources, recounting every phase on each pass would
    cost more than the pass itself.
    """
    before = _phases.pop((namespace, name), None)
    if before is not None:
        EVENTS_BY_PHASE.labels(before).dec()
    if phase is not None:
        _phases[(namespace, name)] = phase
        EVENTS_BY_PHASE.labels(phase).inc()


@contextmanager
def timed(trigger: str) -> Iterator[dict[str, str]]:
    """Count and time one reconciliation; set ``result["outcome"]`` to override ``ok``."""
    result = {"outcome": "ok"}
    started = time.perf_counter()
    try:
        yield result
    except Exception:
        result["outcome"] = "error"
        raise
    finally:
        DURATION.labels(trigger).observe(time.perf_counter() - started)
        RECONCILES.labels(trigger, result["outcome"]).inc()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def probe_app(ready: Callable[[], Awaitable[bool]]) -> web.Application:
    """/metrics, /healthz and /readyz (``ready()`` decides the latter)."""

    async def readyz(request: web.Request) -> web.Response:
        ok = await ready()
        return web.json_response(
            {"status": "ok" if ok else "unavailable"}, status=200 if ok else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_probe_server(
    host: str, port: int, ready: Callable[[], Awaitable[bool]]
) -> web.AppRunner:
    """Serve ``probe_app`` on ``host:port``; ``await runner.cleanup()`` to stop."""
    runner = web.AppRunner(probe_app(ready), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
