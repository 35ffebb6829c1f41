"""What the handlers do: one plain async function per kind of handler.

``reconcile`` is one level-based pass (compare, then repair), so running it again is
always safe: creation, spec updates and the level sweep's wake-ups (``workers.py``) all
run it. ``finalize`` runs on deletion. ``scaling_entry`` feeds kopf's index of scaling
windows.

Each writes the resource's status into a ``patch`` (only what changed) and posts
Kubernetes Events for transitions a person would want to see in ``kubectl describe``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from evently.events.models import Event
from evently_operator import conditions as cond
from evently_operator import metrics
from evently_operator.phases import Phase, sale_phase
from evently_operator.reconcile import RowAction, retire_row, sync_row
from evently_operator.resource import GROUP, KIND, VERSION, managed_by
from evently_operator.runtime import Runtime
from evently_operator.scale_targets import Announcement, ScaleOutcome
from evently_operator.scaling import ScalingWindow, claimed_target, scaling_window
from evently_operator.spec import (
    EventSpec,
    Problem,
    SpecError,
    parse_spec,
    read_valid_spec,
    spec_warnings,
    to_event_input,
)
from evently_operator.status import Figures, fetch_figures

log = logging.getLogger("evently.operator")

# kopf's index of scaling windows: (namespace, deployment) -> windows of every Event.
WindowsIndex = Mapping[tuple[str, str], Iterable[ScalingWindow]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def scaling_entry(body: Mapping[str, Any]) -> dict[tuple[str, str], ScalingWindow]:
    """The resource's scaling window keyed by (namespace, deployment); {} if none.

    Only published, valid Events that are not cancelled or being deleted claim a target.
    """
    meta = body.get("metadata", {})
    if meta.get("deletionTimestamp"):
        return {}
    spec = _valid_spec_of(meta.get("uid"), meta.get("generation"), body.get("spec") or {})
    if spec is None:
        return {}
    cancelled = (body.get("status") or {}).get("phase") == Phase.CANCELLED
    window = scaling_window(meta["name"], spec, meta.get("uid") or "")
    if window is None or claimed_target(spec, cancelled=cancelled) is None:
        return {}
    return {(meta["namespace"], window.deployment): window}


# The index runs on every watch event (several per change): a spec is parsed once per
# (uid, generation), not once per event. Bounded: the oldest entries go first.
_SPEC_CACHE: OrderedDict[tuple[Any, Any], EventSpec | None] = OrderedDict()
_SPEC_CACHE_SIZE = 50_000


def _valid_spec_of(uid: Any, generation: Any, raw: Mapping[str, Any]) -> EventSpec | None:
    key = (uid, generation)
    if uid is not None and key in _SPEC_CACHE:
        _SPEC_CACHE.move_to_end(key)
        return _SPEC_CACHE[key]
    try:
        spec: EventSpec | None = read_valid_spec(raw)
    except SpecError:
        spec = None
    if uid is not None:
        _SPEC_CACHE[key] = spec
        if len(_SPEC_CACHE) > _SPEC_CACHE_SIZE:
            _SPEC_CACHE.popitem(last=False)
    return spec


@dataclass
class ObjectMemory:
    """What this process keeps about one resource (in kopf's per-object memo).

    ``lock``: one pass at a time per resource (handlers and its worker overlap).
    ``written``: the status fields this process last wrote. While it is the active
    peer it is their only writer, so they are never older than a body's copy; a pass
    that waited for another, or a worker whose live body has not caught up with the
    last patch yet, reads them instead of acting on a stale copy (and, say, announcing
    the same phase change twice). Forgotten when the worker stops (a pause, a deletion).
    """

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    written: dict[str, Any] = field(default_factory=dict)


def object_memory(memo: Any) -> ObjectMemory:
    if "evently" not in memo:
        memo["evently"] = ObjectMemory()
    return memo["evently"]


class StatusWriter:
    """The status as this process knows it (``base``) and the patch that writes it."""

    def __init__(self, patch: kopf.Patch, body: kopf.Body, written: dict[str, Any]) -> None:
        self.patch = patch
        self.current: Mapping[str, Any] = body.get("status") or {}
        self.written = written
        self.base: Mapping[str, Any] = {**self.current, **written}

    def write(self, wanted: Mapping[str, Any]) -> None:
        """Patch the fields whose value differs from the body's (None removes a field)."""
        for key, value in wanted.items():
            if self.current.get(key) != value:
                self.patch.status[key] = value
        self.written.update(wanted)


def _problems_message(problems: list[Problem]) -> str:
    return "; ".join(p.message for p in problems)


async def reconcile(
    runtime: Runtime,
    body: kopf.Body,
    patch: kopf.Patch,
    *,
    trigger: str,
    windows: WindowsIndex,
    memo: Any,
) -> None:
    """Bring the row, the status and the scale in line with the resource's spec."""
    memory = object_memory(memo)
    async with memory.lock:
        with metrics.timed(trigger) as result:
            writer = StatusWriter(patch, body, memory.written)
            outcome = await _reconcile(runtime, body, writer, trigger=trigger, windows=windows)
            result["outcome"] = outcome


async def _reconcile(
    runtime: Runtime, body: kopf.Body, writer: StatusWriter, *, trigger: str, windows: WindowsIndex
) -> str:
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    generation = body.metadata.get("generation")
    status = writer.base
    now = utcnow()
    try:
        spec = read_valid_spec(body.get("spec") or {})
        to_event_input(spec, status="draft")  # the events service's own rules, before any SQL
        async with runtime.pool.acquire() as conn:
            sync = await sync_row(
                conn,
                spec,
                managed_by(namespace, name),
                known_event_id=status.get("eventId"),
                reserved_seats=runtime.bookings.reserved_seats,
            )
    except SpecError as exc:
        # An Invalid Event claims nothing: give back whatever it claimed before.
        scaled, _ = await _rescale(runtime, body, None, status, windows, now)
        _mark_invalid(body, writer, exc.problems, generation, now, scaled)
        metrics.record_phase(namespace, name, Phase.INVALID)
        return "invalid"
    except Exception as exc:
        metrics.ERRORS.labels("database").inc()
        message = f"could not write the event: {exc}"
        writer.write(
            {
                "observedGeneration": generation,
                "conditions": cond.merge_conditions(
                    status.get("conditions"),
                    [
                        cond.Condition(cond.READY, False, "DatabaseUnavailable", message),
                        cond.Condition(cond.SYNCED, False, "DatabaseUnavailable", message),
                    ],
                    generation=generation,
                    now=now,
                ),
            },
        )
        raise kopf.TemporaryError(message, delay=runtime.settings.reconcile_interval_s) from exc

    event = sync.event
    if sync.action in (RowAction.CREATED, RowAction.RECREATED):
        # A new row has sold nothing: no need to ask bookings (which has not heard of it).
        figures: Figures | None = Figures(0, 0, event.capacity, 0)
        figures_error = None
    else:
        figures, figures_error = await _figures(runtime, event)
    available = figures.available if figures else status.get("available")
    cancelled = event.status == "cancelled"
    phase = sale_phase(spec, now, cancelled=cancelled, available=available)
    claimed = claimed_target(spec, cancelled=cancelled)
    scaled, scale_outcome = await _rescale(runtime, body, claimed, status, windows, now)

    wanted: dict[str, Any] = {
        "eventId": event.id,
        "eventVersion": event.version,
        "phase": phase.value,
        "observedGeneration": generation,
        "scaledDeployment": scaled,
        **(figures.as_status() if figures else {}),
        **_waiting_room_status(runtime, spec, (namespace, name)),
    }
    ready, synced, valid = _conditions(event, sync.action, phase, figures, figures_error)
    extra, absent = _scaling_conditions(spec, claimed, scale_outcome)
    if scale_outcome is not None and scale_outcome.missing is not None:
        # The sale works, but the rush will not get its replicas: not Ready. A mistake in
        # the manifest outranks a passing outage in the reason; both are in the message.
        message = "; ".join(filter(None, [scale_outcome.missing, figures_error]))
        ready = cond.Condition(cond.READY, False, "ScaleTargetMissing", message)
    _warn_scaling(body, status, scale_outcome)
    wanted["conditions"] = cond.merge_conditions(
        status.get("conditions"),
        [ready, synced, valid, *extra],
        generation=generation,
        now=now,
        remove=absent,
    )
    writer.write(wanted)
    _announce_row(body, sync.action, event, status, trigger, phase)
    # A new row's first phase is in its Created Event (one Event per creation, not two).
    if status.get("phase") != phase.value and sync.action is not RowAction.CREATED:
        kopf.info(
            body,
            reason="PhaseChanged",
            message=f"{status.get('phase') or 'New'} -> {phase.value} (event {event.id})",
        )
    metrics.record_phase(namespace, name, phase.value)
    return "ok"


def _waiting_room_status(runtime: Runtime, spec: EventSpec, key: tuple[str, str]) -> dict[str, Any]:
    """``status.waitingRoom``: removed without an enabled room; the queue length the last
    sweep read (``queue_lengths.py``); left as it is while none is known."""
    if spec.waiting_room is None or not spec.waiting_room.enabled:
        return {"waitingRoom": None}
    length = runtime.queue_lengths.get(key)
    return {} if length is None else {"waitingRoom": {"queueLength": length}}


def _conditions(
    event: Event,
    action: RowAction,
    phase: Phase,
    figures: Figures | None,
    figures_error: str | None,
) -> tuple[cond.Condition, cond.Condition, cond.Condition]:
    """Ready, Synced and Invalid for a written row."""
    valid = cond.Condition(cond.INVALID, False, "Valid", "the spec is valid")
    if action is RowAction.CANCELLED:
        message = (
            f"event {event.id} was cancelled outside Kubernetes; a cancelled event cannot "
            "change: delete this resource"
        )
        return (
            cond.Condition(cond.READY, False, "EventCancelled", message),
            cond.Condition(cond.SYNCED, False, "EventCancelled", message),
            valid,
        )
    synced = cond.Condition(
        cond.SYNCED, True, action.value, f"event {event.id} at version {event.version}"
    )
    if figures_error is not None:
        ready = cond.Condition(cond.READY, False, "BookingsUnavailable", figures_error)
    else:
        ready = cond.Condition(cond.READY, True, phase.value, _summary(event, phase, figures))
    return ready, synced, valid


def _summary(event: Event, phase: Phase, figures: Figures | None) -> str:
    text = f"event {event.id} is {phase.value}"
    if figures is not None:
        text += (
            f": {figures.sold} sold, {figures.held} held, {figures.available} available"
            f" of {event.capacity}"
        )
    return text


def _mark_invalid(
    body: kopf.Body,
    writer: StatusWriter,
    problems: list[Problem],
    generation: int | None,
    now: dt.datetime,
    scaled: str | None,
) -> None:
    """Phase Invalid, the reasons in the conditions, a warning Event; nothing written."""
    status = writer.base
    message = _problems_message(problems)
    not_written = f"nothing was written: {message}"
    previous = cond.condition(status.get("conditions"), cond.INVALID)
    if previous.get("status") != "True" or previous.get("message") != message:
        kopf.warn(body, reason="InvalidSpec", message=message)
    writer.write(
        {
            "phase": Phase.INVALID.value,
            "observedGeneration": generation,
            "scaledDeployment": scaled,
            "conditions": cond.merge_conditions(
                status.get("conditions"),
                [
                    cond.Condition(cond.READY, False, "InvalidSpec", not_written),
                    cond.Condition(cond.SYNCED, False, "InvalidSpec", not_written),
                    cond.Condition(cond.INVALID, True, problems[0].reason, message),
                ],
                generation=generation,
                now=now,
                remove=(cond.SCALED, cond.DEPRECATED),
            ),
        },
    )


def _announce_row(
    body: kopf.Body,
    action: RowAction,
    event: Event,
    status: Mapping[str, Any],
    trigger: str,
    phase: Phase,
) -> None:
    """Kubernetes Events (and drift metrics) for what happened to the row."""
    if action is RowAction.CREATED:
        kopf.info(body, reason="Created", message=f"created event {event.id}: {phase.value}")
    elif action is RowAction.RECREATED:
        metrics.DRIFT_REPAIRS.labels("deleted").inc()
        kopf.warn(
            body,
            reason="DriftRepaired",
            message=f"event {status.get('eventId')} was deleted outside Kubernetes; "
            f"recreated as event {event.id}",
        )
    elif action is RowAction.UPDATED and trigger == "update":
        kopf.info(
            body, reason="Updated", message=f"event {event.id} now at version {event.version}"
        )
    elif action is RowAction.UPDATED:
        metrics.DRIFT_REPAIRS.labels("edited").inc()
        kopf.warn(
            body,
            reason="DriftRepaired",
            message=f"event {event.id} was changed outside Kubernetes; restored as version "
            f"{event.version}",
        )
    elif action is RowAction.CANCELLED and status.get("phase") != Phase.CANCELLED:
        kopf.warn(
            body,
            reason="EventCancelled",
            message=f"event {event.id} was cancelled outside Kubernetes; delete this resource",
        )


async def _figures(runtime: Runtime, event: Event) -> tuple[Figures | None, str | None]:
    """Bookings' figures, or (None, why) if bookings cannot be asked right now."""
    try:
        return await fetch_figures(runtime.bookings, event.id, event.capacity), None
    except Exception as exc:
        metrics.ERRORS.labels("bookings").inc()
        log.warning("bookings figures unavailable for event %s: %s", event.id, exc)
        return None, f"sales figures unavailable (bookings: {exc}); showing the last known"


def _scaling_conditions(
    spec: EventSpec, claimed: str | None, outcome: ScaleOutcome | None
) -> tuple[list[cond.Condition], tuple[str, ...]]:
    """The Scaled and Deprecated conditions, and the types that no longer apply."""
    conditions: list[cond.Condition] = []
    absent: list[str] = []
    if claimed is None or outcome is None:
        absent.append(cond.SCALED)
    elif outcome.missing is not None:
        conditions.append(cond.Condition(cond.SCALED, False, "ScaleTargetMissing", outcome.missing))
    elif outcome.error is not None:
        conditions.append(cond.Condition(cond.SCALED, False, "ScalingFailed", outcome.error))
    elif outcome.wanted is not None:
        message = (
            f"Deployment {claimed}: at least {outcome.wanted} replicas while a sale window "
            "is open; what was there before is restored afterwards"
        )
        conditions.append(cond.Condition(cond.SCALED, True, "SaleWindowOpen", message))
    else:
        message = f"no sale window open: Deployment {claimed} is left as it is"
        conditions.append(cond.Condition(cond.SCALED, True, "OutsideSaleWindow", message))
    warnings = spec_warnings(spec)
    if warnings:
        conditions.append(
            cond.Condition(cond.DEPRECATED, True, warnings[0].reason, _problems_message(warnings))
        )
    else:
        absent.append(cond.DEPRECATED)
    return conditions, tuple(absent)


async def _rescale(
    runtime: Runtime,
    body: kopf.Body,
    claimed: str | None,
    status: Mapping[str, Any],
    windows: WindowsIndex,
    now: dt.datetime,
    *,
    formerly: Iterable[str | None] = (),
) -> tuple[str | None, ScaleOutcome | None]:
    """Settle the Deployment this Event claims and any it claimed before.

    Returns what ``status.scaledDeployment`` should say (the claimed target, else a
    former one whose hand-back failed and must be retried) and the claimed target's
    outcome.
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    formers = {d for d in (status.get("scaledDeployment"), *formerly) if d and d != claimed}
    outcome: ScaleOutcome | None = None
    retry: str | None = None
    for deployment in sorted({*formers, *([claimed] if claimed else [])}):
        claims = [
            w
            for w in windows.get((namespace, deployment), [])
            if deployment == claimed or w.event != name
        ]
        result, announcements = await runtime.scalers.settle(namespace, deployment, claims, now)
        _announce_scaling(body, announcements)
        if deployment == claimed:
            outcome = result
        elif result.error is not None:
            retry = deployment
    return claimed or retry, outcome


def _warn_scaling(body: kopf.Body, status: Mapping[str, Any], outcome: ScaleOutcome | None) -> None:
    """A Warning Event when the scale target goes missing (once, not every pass)."""
    if outcome is None or outcome.missing is None:
        return
    previous = cond.condition(status.get("conditions"), cond.SCALED)
    if previous.get("reason") != "ScaleTargetMissing" or previous.get("message") != outcome.missing:
        kopf.warn(
            body,
            reason="ScaleTargetMissing",
            message=f"{outcome.missing}: the sale window will not be scaled",
        )


def _announce_scaling(body: kopf.Body, announcements: Iterable[Announcement]) -> None:
    """``ScaledUp``/``ScaledDown`` on the Events whose claims caused each change (the
    pass may have run on another Event's worker); on ``body`` if no claim explains it."""
    namespace = body.metadata.namespace or ""
    for announcement in announcements:
        change = announcement.change
        reason = "ScaledUp" if change.after > change.before else "ScaledDown"
        objects = [_event_ref(namespace, w) for w in announcement.claims] or [body]
        kopf.info(objects, reason=reason, message=change.describe())


def _event_ref(namespace: str, window: ScalingWindow) -> dict[str, Any]:
    """Enough of the Event resource that claimed ``window`` to post a Kubernetes Event on."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"namespace": namespace, "name": window.event, "uid": window.uid},
    }


async def finalize(runtime: Runtime, body: kopf.Body, *, windows: WindowsIndex, memo: Any) -> None:
    """Retire the row (cancelled, bookings kept, released so the name can be reused) and
    hand the Deployment back; then kopf removes the finalizer. A row that is already
    gone is not an error."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    async with object_memory(memo).lock:
        with metrics.timed("delete"):
            try:
                async with runtime.pool.acquire() as conn:
                    event = await retire_row(conn, managed_by(namespace, name))
            except Exception as exc:
                metrics.ERRORS.labels("database").inc()
                raise kopf.TemporaryError(
                    f"could not cancel the event: {exc}",
                    delay=runtime.settings.reconcile_interval_s,
                ) from exc
            if event is None:
                kopf.info(body, reason="Deleted", message="no event row to cancel")
            else:
                kopf.info(
                    body,
                    reason="EventCancelled",
                    message=f"event {event.id} is {event.status} and released; its bookings "
                    "are kept",
                )
            try:
                spec: EventSpec | None = parse_spec(body.get("spec") or {})
            except SpecError:
                spec = None
            target = spec.scaling.deployment if spec and spec.scaling else None
            status = body.get("status") or {}
            left, _ = await _rescale(
                runtime, body, None, status, windows, utcnow(), formerly=[target]
            )
            if left is not None:
                # Keep the finalizer until the Deployment has its recorded figure back.
                raise kopf.TemporaryError(
                    f"could not restore Deployment {left} yet",
                    delay=runtime.settings.reconcile_interval_s,
                )
            metrics.record_phase(namespace, name, None)
