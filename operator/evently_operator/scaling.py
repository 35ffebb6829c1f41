"""Scaling the platform for a sale's rush.

Each Event with ``spec.scaling`` contributes a window to its target Deployment: from
``opensAt - leadTime`` to ``closesAt + cooldown`` it asks for ``saleReplicas``, and
otherwise for ``baselineReplicas``. A Deployment's desired replicas are the maximum
over every Event aiming at it, so overlapping sales compose and the last one to end
brings it back to the (largest) baseline.

The figure goes to the Deployment's scale subresource, unless a HorizontalPodAutoscaler
targets that Deployment: then its ``minReplicas`` is raised instead, so the operator
sets a floor and never fights the autoscaler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from evently_operator.kubeapi import KubeApi
from evently_operator.spec import EventSpec

# Newest first: autoscaling/v2 from Kubernetes 1.23, v2beta2 before; v1 has minReplicas too.
AUTOSCALING_VERSIONS = ("v2", "v2beta2", "v1")
_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScalingWindow:
    """One Event's claim on a Deployment's replicas."""

    event: str
    deployment: str
    baseline: int
    sale_replicas: int
    starts: dt.datetime
    ends: dt.datetime

    def covers(self, now: dt.datetime) -> bool:
        return self.starts <= now < self.ends


@dataclass(frozen=True)
class ScaleChange:
    """What ``apply_replicas`` changed: a Deployment's replicas or an HPA's minReplicas."""

    kind: str
    name: str
    before: int
    after: int
    wanted: int

    @property
    def limited(self) -> bool:
        """True when an HPA's maxReplicas kept minReplicas below the wanted figure."""
        return self.after != self.wanted


class ScaleTargetMissing(Exception):
    """The Deployment an Event names does not exist (yet)."""


def scaling_window(event: str, spec: EventSpec, *, active: bool = True) -> ScalingWindow | None:
    """The window ``spec`` claims, or None without ``spec.scaling``.

    An inactive event (a draft, or cancelled) still holds its target at the baseline.
    """
    scaling = spec.scaling
    if scaling is None:
        return None
    opens = spec.sale_opens_at
    starts = opens - scaling.lead_time if opens is not None else _MIN_TIME
    return ScalingWindow(
        event=event,
        deployment=scaling.deployment,
        baseline=scaling.baseline_replicas,
        sale_replicas=scaling.sale_replicas if active else scaling.baseline_replicas,
        starts=starts,
        ends=spec.sale_ends_at + scaling.cooldown,
    )


def desired_replicas(windows: Iterable[ScalingWindow], now: dt.datetime) -> int | None:
    """The largest baseline, raised to the largest sale figure of any window covering now."""
    windows = list(windows)
    if not windows:
        return None
    baseline = max(w.baseline for w in windows)
    return max([baseline, *(w.sale_replicas for w in windows if w.covers(now))])


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


async def apply_replicas(
    kube: KubeApi, namespace: str, deployment: str, desired: int
) -> ScaleChange | None:
    """Make ``deployment`` run at least/exactly ``desired`` replicas; None if already so.

    With an HPA: its minReplicas becomes ``desired`` (at least 1, at most maxReplicas).
    Without: the Deployment's scale subresource gets ``desired``.
    """
    hpa = await find_hpa(kube, namespace, deployment)
    if hpa is not None:
        spec = hpa.get("spec", {})
        current = int(spec.get("minReplicas") or 1)
        target = max(1, min(desired, int(spec.get("maxReplicas") or desired)))
        if current == target:
            return None
        await kube.merge_patch(hpa["_path"], {"spec": {"minReplicas": target}})
        return ScaleChange(
            "HorizontalPodAutoscaler", hpa["metadata"]["name"], current, target, desired
        )
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale"
    scale = await kube.get(path)
    if scale is None:
        raise ScaleTargetMissing(f"Deployment {namespace}/{deployment} does not exist")
    current = int(scale.get("spec", {}).get("replicas") or 0)
    if current == desired:
        return None
    await kube.merge_patch(path, {"spec": {"replicas": desired}})
    return ScaleChange("Deployment", deployment, current, desired, desired)
