"""One controller per scale target (a Deployment), fed by the Events that claim it.

Every Event's pass asks its target's controller to *settle*: the controller applies the
rule (``scaling.apply_rule``) at most once per ``refresh_s`` and otherwise only when
something that decides it changed: the set of claims, or the clock crossing a window's
start or end. So a thousand Events on one Deployment cost one HPA list and one GET per
interval, not a thousand, and passes never queue behind each other on the Deployment.

Whichever Event's call runs the pass, each change it makes is returned with the claims
that caused it (``scaling.causes_of``), so it is announced on the Event whose window
opened or ended, not on the Event that happened to run the pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from evently_operator import metrics
from evently_operator.kubeapi import KubeApi, KubeApiError
from evently_operator.scaling import (
    ScaleChange,
    ScaleConflict,
    ScaleTargetMissing,
    ScalingWindow,
    apply_rule,
    causes_of,
    next_boundary,
    open_claims,
    wanted_replicas,
)

log = logging.getLogger("evently.operator")


@dataclass(frozen=True)
class ScaleOutcome:
    """How the last pass on a target went (shared by every Event claiming it)."""

    wanted: int | None = None  # the largest saleReplicas of an open window
    missing: str | None = None  # why the target could not be found
    error: str | None = None  # why the last pass failed (retried next interval)

    @property
    def ok(self) -> bool:
        return self.missing is None and self.error is None


@dataclass(frozen=True)
class Announcement:
    """A change one pass made, and the claims (Events) it is to be announced on.

    ``claims`` empty: no claim explains it; the Event that ran the pass announces it.
    """

    change: ScaleChange
    claims: tuple[ScalingWindow, ...]


@dataclass
class TargetController:
    """The state of one (namespace, Deployment)."""

    namespace: str
    deployment: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    claims: frozenset[ScalingWindow] | None = None
    passed_at: float = float("-inf")  # monotonic
    boundary: dt.datetime | None = None
    outcome: ScaleOutcome = field(default_factory=ScaleOutcome)
    # The windows open at the last pass that succeeded (None: none yet since start).
    opened: frozenset[ScalingWindow] | None = None

    def due(self, claims: frozenset[ScalingWindow], now: dt.datetime, refresh_s: float) -> bool:
        return (
            claims != self.claims
            or time.monotonic() - self.passed_at >= refresh_s
            or (self.boundary is not None and now >= self.boundary)
        )


class ScaleControllers:
    """The controllers of every target this process has seen."""

    def __init__(self, kube: KubeApi, refresh_s: float) -> None:
        self.kube = kube
        self.refresh_s = refresh_s
        self.targets: dict[tuple[str, str], TargetController] = {}
        self.passes = 0  # how many times the rule ran (for tests and metrics)

    def controller(self, namespace: str, deployment: str) -> TargetController:
        key = (namespace, deployment)
        if key not in self.targets:
            self.targets[key] = TargetController(namespace, deployment)
        return self.targets[key]

    async def settle(
        self,
        namespace: str,
        deployment: str,
        claims: Iterable[ScalingWindow],
        now: dt.datetime,
    ) -> tuple[ScaleOutcome, list[Announcement]]:
        """Bring the target in line with ``claims`` if due; the changes this call made,
        each with the claims that caused it (only the caller that ran the pass gets
        them, so each change is announced once)."""
        target = self.controller(namespace, deployment)
        wanted_claims = frozenset(claims)
        if not target.due(wanted_claims, now, self.refresh_s):
            return target.outcome, []
        async with target.lock:
            # Another caller may have settled the same state while this one waited.
            if not target.due(wanted_claims, now, self.refresh_s):
                return target.outcome, []
            return await self._pass(target, wanted_claims, now)

    async def _pass(
        self, target: TargetController, claims: frozenset[ScalingWindow], now: dt.datetime
    ) -> tuple[ScaleOutcome, list[Announcement]]:
        wanted = wanted_replicas(claims, now)
        changes: list[ScaleChange] = []
        self.passes += 1
        metrics.SCALE_PASSES.inc()
        try:
            changes = await self._apply(target, wanted)
            outcome = ScaleOutcome(wanted=wanted)
        except ScaleTargetMissing as exc:
            outcome = ScaleOutcome(wanted=wanted, missing=str(exc))
        except ScaleConflict as exc:
            outcome = ScaleOutcome(wanted=wanted, error=str(exc))
        except (KubeApiError, OSError, TimeoutError) as exc:
            metrics.ERRORS.labels("kubernetes").inc()
            log.warning("scaling %s/%s failed: %s", target.namespace, target.deployment, exc)
            outcome = ScaleOutcome(wanted=wanted, error=f"scaling failed: {exc}")
        # A failed pass is retried at the next refresh.
        target.claims = claims
        target.passed_at = time.monotonic()
        target.boundary = next_boundary(claims, now)
        target.outcome = outcome
        announcements = [
            Announcement(change, causes_of(change, claims, target.opened, now))
            for change in changes
        ]
        if outcome.ok:
            target.opened = open_claims(claims, now)
        for change in changes:
            direction = "up" if change.after > change.before else "down"
            metrics.SCALE_CHANGES.labels(change.kind, direction).inc()
        return outcome, announcements

    async def _apply(self, target: TargetController, wanted: int | None) -> list[ScaleChange]:
        """The rule, re-read and retried when someone else changed the target meanwhile."""
        for attempt in range(3):
            try:
                return await apply_rule(self.kube, target.namespace, target.deployment, wanted)
            except ScaleConflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
