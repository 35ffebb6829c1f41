"""Scaling the platform for a sale's rush: the rule, and applying it to one target.

Each published Event with ``spec.scaling`` claims its Deployment from
``opensAt - leadTime`` until ``closesAt + cooldown`` (a *window*). The rule:

* Outside every window the operator does not touch the replicas (or an HPA's
  ``minReplicas``).
* When the first window of a target opens, it records what was there, as the
  annotation ``evently.io/recorded-replicas`` on the object it changes, so the record
  survives restarts.
* While any window is open it raises the target to at least the largest
  ``saleReplicas`` among the open windows (never lowers it: a person or an autoscaler
  may run more).
* When the last window closes (or its Events are deleted, turn Invalid or lose
  ``spec.scaling``) it restores exactly what it recorded and removes the record.

The object changed is the Deployment's ``spec.replicas``, unless a
HorizontalPodAutoscaler targets that Deployment: then its ``minReplicas`` (capped at
its ``maxReplicas``), so the operator sets a floor and never fights the autoscaler.
Record and change go in one PATCH guarded by ``resourceVersion``, so a concurrent
edit makes the pass retry rather than record a figure it did not see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from evently_operator.kubeapi import KubeApi, KubeApiError
from evently_operator.spec import EventSpec

# Newest first: autoscaling/v2 from Kubernetes 1.23, v2beta2 before; v1 has minReplicas too.
AUTOSCALING_VERSIONS = ("v2", "v2beta2", "v1")
# On the Deployment (its replicas) or the HPA (its minReplicas) while a window is open.
RECORD_ANNOTATION = "evently.io/recorded-replicas"
_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScalingWindow:
    """One Event's claim on a Deployment's replicas."""

    event: str
    deployment: str
    sale_replicas: int
    starts: dt.datetime
    ends: dt.datetime
    uid: str = ""  # the Event's metadata.uid: scale changes are announced on it

    def covers(self, now: dt.datetime) -> bool:
        return self.starts <= now < self.ends


def scaling_window(event: str, spec: EventSpec, uid: str = "") -> ScalingWindow | None:
    """The window ``spec`` claims, or None without ``spec.scaling``."""
    scaling = spec.scaling
    if scaling is None:
        return None
    opens = spec.sale_opens_at
    return ScalingWindow(
        event=event,
        deployment=scaling.deployment,
        sale_replicas=scaling.sale_replicas,
        starts=opens - scaling.lead_time if opens is not None else _MIN_TIME,
        ends=spec.sale_ends_at + scaling.cooldown,
        uid=uid,
    )


def claimed_target(spec: EventSpec, *, cancelled: bool) -> str | None:
    """The Deployment the Event claims; None without scaling, for drafts and cancelled."""
    if spec.scaling is None or not spec.published or cancelled:
        return None
    return spec.scaling.deployment


def wanted_replicas(windows: Iterable[ScalingWindow], now: dt.datetime) -> int | None:
    """The largest ``saleReplicas`` among the windows open at ``now``; None if none is."""
    figures = [w.sale_replicas for w in windows if w.covers(now)]
    return max(figures) if figures else None


def next_boundary(windows: Iterable[ScalingWindow], now: dt.datetime) -> dt.datetime | None:
    """The first window start or end after ``now``: when the wanted figure may change."""
    moments = [t for w in windows for t in (w.starts, w.ends) if t > now]
    return min(moments) if moments else None


@dataclass(frozen=True)
class ScaleChange:
    """What one pass changed on a Deployment's replicas or an HPA's minReplicas."""

    kind: str
    name: str
    before: int
    after: int
    restored: bool = False
    wanted: int | None = None  # set when an HPA's maxReplicas kept the floor lower

    @property
    def field(self) -> str:
        return "minReplicas" if self.kind == "HorizontalPodAutoscaler" else "replicas"

    def describe(self) -> str:
        text = f"{self.kind} {self.name}: {self.field} {self.before} -> {self.after}"
        if self.restored:
            text += " (restored as recorded when the sale window began)"
        elif self.wanted is not None:
            text += f" (wanted {self.wanted}; the HPA's maxReplicas is lower)"
        return text


class ScaleTargetMissing(Exception):
    """The Deployment an Event names does not exist (yet)."""


class ScaleConflict(Exception):
    """The target changed between reading and patching it; the next pass retries."""


@dataclass(frozen=True)
class _Target:
    """The object whose figure the operator changes, as read in one pass."""

    kind: str
    name: str
    path: str
    figure_field: str  # where the figure lives under spec
    current: int
    recorded: int | None
    resource_version: str
    ceiling: int | None = None  # an HPA's maxReplicas


def _recorded(obj: dict[str, Any]) -> int | None:
    value = (obj.get("metadata", {}).get("annotations") or {}).get(RECORD_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def autoscaling_version(kube: KubeApi) -> str | None:
    """The newest autoscaling API version the server offers (cached per client)."""
    if "autoscaling" not in kube.cache:
        group = await kube.get("/apis/autoscaling") or {}
        offered = {v.get("version") for v in group.get("versions", [])}
        kube.cache["autoscaling"] = next((v for v in AUTOSCALING_VERSIONS if v in offered), None)
    return kube.cache["autoscaling"]


async def find_hpa(kube: KubeApi, namespace: str, deployment: str) -> dict[str, Any] | None:
    """The HPA in ``namespace`` whose scale target is the Deployment ``deployment``."""
    version = await autoscaling_version(kube)
    if version is None:
        return None
    path = f"/apis/autoscaling/{version}/namespaces/{namespace}/horizontalpodautoscalers"
    listing = await kube.get(path) or {}
    for hpa in listing.get("items", []):
        target = hpa.get("spec", {}).get("scaleTargetRef", {})
        if target.get("kind") == "Deployment" and target.get("name") == deployment:
            hpa["_path"] = f"{path}/{hpa['metadata']['name']}"
            return hpa
    return None


def deployment_path(namespace: str, deployment: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"


async def _read_targets(kube: KubeApi, namespace: str, deployment: str) -> list[_Target]:
    """The HPA (if any) first, then the Deployment (if it exists)."""
    found: list[_Target] = []
    hpa = await find_hpa(kube, namespace, deployment)
    if hpa is not None:
        spec = hpa.get("spec", {})
        found.append(
            _Target(
                kind="HorizontalPodAutoscaler",
                name=hpa["metadata"]["name"],
                path=hpa["_path"],
                figure_field="minReplicas",
                current=int(spec.get("minReplicas") or 1),
                recorded=_recorded(hpa),
                resource_version=hpa["metadata"].get("resourceVersion", ""),
                ceiling=int(spec["maxReplicas"]) if spec.get("maxReplicas") else None,
            )
        )
    path = deployment_path(namespace, deployment)
    body = await kube.get(path)
    if body is not None:
        found.append(
            _Target(
                kind="Deployment",
                name=deployment,
                path=path,
                figure_field="replicas",
                current=int(body.get("spec", {}).get("replicas") or 0),
                recorded=_recorded(body),
                resource_version=body["metadata"].get("resourceVersion", ""),
            )
        )
    return found


async def _patch(kube: KubeApi, target: _Target, figure: int, record: str | None) -> None:
    """Set the figure and the record (None removes it) in one guarded merge patch."""
    body = {
        "metadata": {
            "resourceVersion": target.resource_version,
            "annotations": {RECORD_ANNOTATION: record},
        },
        "spec": {target.figure_field: figure},
    }
    try:
        await kube.merge_patch(target.path, body)
    except KubeApiError as exc:
        if exc.status == 409:
            raise ScaleConflict(f"{target.kind} {target.name} changed meanwhile") from exc
        raise


async def apply_rule(
    kube: KubeApi, namespace: str, deployment: str, wanted: int | None
) -> list[ScaleChange]:
    """One pass of the rule for ``deployment``, given the wanted figure (None: no window).

    Raises ScaleTargetMissing if the Deployment does not exist (a record on its HPA is
    still given back first), ScaleConflict if a target changed while being patched.
    """
    changes: list[ScaleChange] = []
    targets = await _read_targets(kube, namespace, deployment)
    missing = not any(t.kind == "Deployment" for t in targets)
    if missing:
        wanted = None  # nothing to raise; still give back what an HPA recorded
    # The object to raise: the HPA when there is one, else the Deployment.
    active = targets[0] if targets else None
    for target in targets:
        if wanted is not None and target is active:
            changes.extend(await _raise(kube, target, wanted))
        elif target.recorded is not None:
            # No window any more, or a record left on an object no longer in charge
            # (an HPA removed or added meanwhile): give back what was taken.
            await _patch(kube, target, target.recorded, None)
            if target.recorded != target.current:
                changes.append(
                    ScaleChange(target.kind, target.name, target.current, target.recorded, True)
                )
    if missing:
        raise ScaleTargetMissing(f"Deployment {namespace}/{deployment} does not exist")
    return changes


async def _raise(kube: KubeApi, target: _Target, wanted: int) -> list[ScaleChange]:
    floor = wanted if target.ceiling is None else max(1, min(wanted, target.ceiling))
    figure = max(target.current, floor)
    if target.recorded is not None and figure == target.current:
        return []
    record = str(target.recorded if target.recorded is not None else target.current)
    await _patch(kube, target, figure, record)
    if figure == target.current:
        return []
    limited = wanted if floor != wanted else None
    return [ScaleChange(target.kind, target.name, target.current, figure, wanted=limited)]


def open_claims(windows: Iterable[ScalingWindow], now: dt.datetime) -> frozenset[ScalingWindow]:
    """The windows open at ``now``."""
    return frozenset(w for w in windows if w.covers(now))


def causes_of(
    change: ScaleChange,
    claims: Iterable[ScalingWindow],
    opened_before: frozenset[ScalingWindow] | None,
    now: dt.datetime,
) -> tuple[ScalingWindow, ...]:
    """The claims whose windows caused ``change``: the Events to announce it on.

    * A raise: the open windows with the largest ``saleReplicas`` (the ones that decide
      the figure). When the first window opens, that is the Event whose window opened.
    * A restore: the claims open at the previous pass (``opened_before``) whose Event
      has no open window now: it ended, or the Event was deleted, turned Invalid, became
      a draft or lost ``spec.scaling``. With no previous pass to compare (the operator
      restarted), the claims whose windows ended last.

    Empty when no claim explains it (e.g. a restore after the only claim was deleted
    while no operator ran): the caller announces it on its own Event.
    """
    claims = list(claims)
    open_now = open_claims(claims, now)
    if not change.restored:
        if not open_now:
            return ()
        largest = max(w.sale_replicas for w in open_now)
        return _by_event(w for w in open_now if w.sale_replicas == largest)
    if opened_before is not None:
        still_open = {(w.event, w.uid) for w in open_now}
        ended = [w for w in opened_before if (w.event, w.uid) not in still_open]
        if ended:
            return _by_event(ended)
    past = [w for w in claims if w.ends <= now]
    if not past:
        return ()
    last = max(w.ends for w in past)
    return _by_event(w for w in past if w.ends == last)


def _by_event(windows: Iterable[ScalingWindow]) -> tuple[ScalingWindow, ...]:
    return tuple(sorted(windows, key=lambda w: (w.event, w.uid)))
