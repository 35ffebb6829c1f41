"""The level sweep: every interval, one look at every Event this replica manages.

kopf reacts to changes of the resource (create, spec update, delete). What changes
without a watch event -- the clock crossing a sale's opening, a row edited or deleted
behind the operator's back, seats sold, a scale window opening or closing -- is found
here, in bulk: one SQL query for all rows and published figures, then comparisons in
memory. Only the Events that need it get a pass, run by their own worker.

The workers are kopf daemons (``operations.work``): one per resource, asleep until
woken. kopf runs them only while this replica is the active peer and stops them at once
when a resource is deleted, so membership here is exactly "what this replica manages
now". An idle operator with 10,000 Events does one query and a loop per interval.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from evently.events.repository import ManagedState
from evently_operator import conditions as cond
from evently_operator.phases import sale_phase
from evently_operator.resource import managed_by
from evently_operator.scale_targets import ScaleControllers, ScaleOutcome
from evently_operator.scaling import claimed_target
from evently_operator.spec import EventSpec, SpecError, read_valid_spec

log = logging.getLogger("evently.operator")


@dataclass(eq=False)
class Member:
    """One resource with a live worker; ``body`` is kopf's live view of it."""

    namespace: str
    name: str
    body: kopf.Body
    # The status fields this process last wrote (``operations.ObjectMemory``): newer
    # than the live body until the watch brings the patch back.
    written: Mapping[str, Any] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failed: bool = False  # the last pass raised: the next sweep tries again
    _spec: tuple[Any, EventSpec | None] = (object(), None)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def spec(self) -> EventSpec | None:
        """The valid spec (parsed once per generation), or None if it is invalid."""
        generation = self.body.metadata.get("generation")
        if self._spec[0] != generation:
            try:
                parsed: EventSpec | None = read_valid_spec(self.body.get("spec") or {})
            except SpecError:
                parsed = None
            self._spec = (generation, parsed)
        return self._spec[1]


def expected_scaled_reason(claimed: bool, outcome: ScaleOutcome | None) -> str | None:
    """The Scaled condition's reason a pass would write (None: no condition)."""
    if not claimed or outcome is None:
        return None
    if outcome.missing is not None:
        return "ScaleTargetMissing"
    if outcome.error is not None:
        return "ScalingFailed"
    return "SaleWindowOpen" if outcome.wanted is not None else "OutsideSaleWindow"


def why_pass(
    status: Mapping[str, Any],
    generation: Any,
    spec: EventSpec | None,
    state: ManagedState | None,
    now: dt.datetime,
    scaled_reason: str | None,
) -> str | None:
    """Why this resource needs a pass now, or None if its status still holds.

    A resource never reconciled yet, or whose spec changed since, is kopf's to handle
    (its create and update handlers): a pass from here would only race them.
    """
    if status.get("observedGeneration") != generation:
        return None
    if spec is None:
        # Invalid: nothing to do until the spec changes, unless a Deployment is still
        # to be given back.
        return "scaling" if status.get("scaledDeployment") else None
    if state is None:
        return "row-missing"
    if state.id != status.get("eventId") or state.version != status.get("eventVersion"):
        return "row-changed"
    cancelled = state.status == "cancelled"
    if sale_phase(spec, now, cancelled=cancelled, available=status.get("available")) != status.get(
        "phase"
    ):
        return "phase"
    published = (state.sold, state.held, state.available)
    if state.sold is not None and published != tuple(
        status.get(k) for k in ("sold", "held", "available")
    ):
        return "figures"
    current = cond.condition(status.get("conditions"), cond.SCALED).get("reason")
    if current != scaled_reason:
        return "scaling"
    return None


class Levels:
    """The members (resources with a live worker) and the sweep over them."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], Member] = {}
        self.woken = 0  # passes asked for, for tests and the benchmark

    def join(self, body: kopf.Body, written: Mapping[str, Any]) -> Member:
        member = Member(body.metadata.namespace or "", body.metadata.name or "", body, written)
        self.members[member.key] = member
        return member

    def leave(self, member: Member) -> None:
        if self.members.get(member.key) is member:
            del self.members[member.key]

    def wake(self, member: Member, why: str) -> None:
        if not member.wake.is_set():
            self.woken += 1
            log.debug("level pass for %s/%s: %s", member.namespace, member.name, why)
            member.wake.set()

    def sweep(
        self,
        states: Mapping[str, ManagedState],
        windows: Mapping[tuple[str, str], Any],
        scalers: ScaleControllers,
        now: dt.datetime,
    ) -> int:
        """Wake every member that needs a pass; returns how many were woken."""
        before = self.woken
        for member in list(self.members.values()):
            body = member.body
            status = {**(body.get("status") or {}), **member.written}
            spec = member.spec()
            state = states.get(managed_by(member.namespace, member.name))
            cancelled = state is not None and state.status == "cancelled"
            claimed = None if spec is None else claimed_target(spec, cancelled=cancelled)
            outcome = None
            if claimed is not None:
                target = scalers.targets.get((member.namespace, claimed))
                outcome = target.outcome if target is not None else None
            why = "retry" if member.failed else None
            why = why or why_pass(
                status,
                body.metadata.get("generation"),
                spec,
                state,
                now,
                expected_scaled_reason(claimed is not None, outcome),
            )
            if why is not None:
                self.wake(member, why)
        # A target whose scale is due is settled by one of the Events claiming it.
        for (namespace, deployment), claims in windows.items():
            claims = list(claims)
            if not claims:
                continue
            controller = scalers.controller(namespace, deployment)
            if controller.due(frozenset(claims), now, scalers.refresh_s):
                for window in claims:
                    member = self.members.get((namespace, window.event))
                    if member is not None:
                        self.wake(member, "scale target due")
                        break
        return self.woken - before
