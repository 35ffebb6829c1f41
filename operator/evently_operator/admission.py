"""Validation at apply time: the admission webhook's one check, as a plain function.

``kubectl apply`` of a spec the operator would mark Invalid is refused on the spot, with
the same messages as the Invalid condition: the rules the schema cannot express (ends
before starts, a sale window outside the event, ...), the events service's own rules,
and a scale target that does not exist. The webhook's ``failurePolicy`` is ``Ignore``:
if the operator is down, applies go through and the Invalid phase is the backstop.

What the webhook never refuses: a deletion in progress, and an update that leaves the
spec alone (kopf's own finalizer and annotation patches, ``kubectl label``), so a
resource can always be cleaned up. Deprecated fields and a namespace no operator
watches are admission *warnings* (kubectl prints them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from evently_operator.config import OperatorSettings
from evently_operator.kubeapi import KubeApi, KubeApiError
from evently_operator.resource import FINALIZER
from evently_operator.scaling import deployment_path
from evently_operator.spec import (
    EventSpec,
    Problem,
    SpecError,
    read_valid_spec,
    spec_warnings,
    to_event_input,
)

# HTTP 422 as Kubernetes uses it for invalid objects.
UNPROCESSABLE = 422


def _scaling_target(spec: Mapping[str, Any] | None) -> str | None:
    scaling = (spec or {}).get("scaling")
    return scaling.get("deployment") if isinstance(scaling, Mapping) else None


async def _deployment_exists(kube: KubeApi, namespace: str, name: str, warnings: list[str]) -> bool:
    """Whether it exists; True (with a warning) if the API server cannot say."""
    try:
        return await kube.get(deployment_path(namespace, name)) is not None
    except (KubeApiError, OSError, TimeoutError) as exc:
        warnings.append(f"could not check that Deployment {namespace}/{name} exists: {exc}")
        return True


async def validate(
    kube: KubeApi,
    settings: OperatorSettings,
    *,
    namespace: str,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    warnings: list[str],
) -> None:
    """Raise ``kopf.AdmissionError`` (422) naming every problem; add ``warnings``."""
    if settings.watch_namespaces and namespace not in settings.watch_namespaces:
        # Not ours to judge (another operator may watch it), but worth a word.
        warnings.append(
            f"this evently operator does not watch namespace {namespace} (it watches "
            f"{', '.join(settings.watch_namespaces)}): unless another one does, this Event "
            "will keep an empty phase"
        )
        return
    if (new.get("metadata") or {}).get("deletionTimestamp"):
        return
    spec = new.get("spec") or {}
    if old is not None and (old.get("spec") or {}) == spec:
        return  # metadata only (finalizers, annotations, labels): never in the way
    problems: list[Problem] = []
    parsed: EventSpec | None = None
    try:
        parsed = read_valid_spec(spec)
        to_event_input(parsed, status="draft")
    except SpecError as exc:
        problems.extend(exc.problems)
    target = _scaling_target(spec)
    # Checked when the target is new or changes, so an unrelated edit is not refused
    # because someone removed the Deployment meanwhile.
    changed = target != _scaling_target((old or {}).get("spec"))
    if target and changed and not await _deployment_exists(kube, namespace, target, warnings):
        problems.append(
            Problem(
                "ScaleTargetMissing",
                f"spec.scaling.deployment: Deployment {namespace}/{target} does not exist",
            )
        )
    if problems:
        raise kopf.AdmissionError(
            "; ".join(f"{p.reason}: {p.message}" for p in problems), code=UNPROCESSABLE
        )
    if parsed is not None:
        warnings.extend(w.message for w in spec_warnings(parsed))


def finalizers_at_creation(metadata: Mapping[str, Any]) -> list[str] | None:
    """The finalizer list a new Event should be created with, or None if it has ours.

    The mutating webhook adds the operator's finalizer as the object is created, so kopf
    does not have to PATCH it in afterwards: one API write and one watch event fewer per
    creation, and the create handler runs on the first watch event. With the webhook
    down (``failurePolicy: Ignore``) kopf adds it as before.
    """
    finalizers = list(metadata.get("finalizers") or [])
    return None if FINALIZER in finalizers else [*finalizers, FINALIZER]
