"""What ``kubectl evently status`` shows: one row per Event, from plain values.

Nothing here talks to a cluster; ``cli.py`` fetches the objects and passes them in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evently_operator import conditions as cond
from evently_operator.scaling import RECORD_ANNOTATION, scaling_window
from evently_operator.spec import SpecError, read_valid_spec

# An Event this old with no status at all: most likely no operator watches its namespace.
UNWATCHED_AFTER = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class TargetState:
    """A scale target as found: the figure the operator changes and its record."""

    kind: str  # Deployment or HorizontalPodAutoscaler
    figure: int  # replicas, or the HPA's minReplicas
    recorded: str | None  # the evently.io/recorded-replicas annotation


def target_state(
    deployment: Mapping[str, Any] | None, hpa: Mapping[str, Any] | None
) -> TargetState | None:
    """The state of a scale target from its Deployment and (if any) its HPA."""
    if deployment is None:
        return None
    if hpa is not None:
        annotations = (hpa.get("metadata") or {}).get("annotations") or {}
        minimum = int((hpa.get("spec") or {}).get("minReplicas") or 1)
        return TargetState("HorizontalPodAutoscaler", minimum, annotations.get(RECORD_ANNOTATION))
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    replicas = int((deployment.get("spec") or {}).get("replicas") or 0)
    return TargetState("Deployment", replicas, annotations.get(RECORD_ANNOTATION))


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def scaling_text(event: Mapping[str, Any], target: TargetState | None, now: dt.datetime) -> str:
    """``bookings: 12 replicas (recorded 2; window open until ...)`` or ``-``."""
    try:
        spec = read_valid_spec(event.get("spec") or {})
    except SpecError:
        return "-"
    window = scaling_window((event.get("metadata") or {}).get("name", ""), spec)
    if window is None:
        return "-"
    if target is None:
        return f"{window.deployment}: missing"
    what = "min replicas (HPA)" if target.kind == "HorizontalPodAutoscaler" else "replicas"
    text = f"{window.deployment}: {target.figure} {what}"
    if window.covers(now):
        text += f", window open until {_ts(window.ends)}"
    elif now < window.starts:
        text += f", window opens {_ts(window.starts)}"
    else:
        text += ", window over"
    if target.recorded is not None:
        text += f", recorded {target.recorded}"
    return text


def _age(event: Mapping[str, Any], now: dt.datetime) -> dt.timedelta:
    created = (event.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return dt.timedelta(0)
    return now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))


def unwatched(event: Mapping[str, Any], now: dt.datetime) -> bool:
    """No status at all, well after creation: nobody reconciles it."""
    return not (event.get("status") or {}) and _age(event, now) > UNWATCHED_AFTER


def status_row(event: Mapping[str, Any], target: TargetState | None, now: dt.datetime) -> list[str]:
    """NAMESPACE, NAME, PHASE, READY, SOLD, HELD, AVAILABLE, WAITLIST, SCALING."""
    meta = event.get("metadata") or {}
    status = event.get("status") or {}
    ready = cond.condition(status.get("conditions"), cond.READY)
    ready_text = ready.get("status", "-")
    if ready and ready.get("status") != "True":
        ready_text += f" ({ready.get('reason')})"
    phase = status.get("phase") or ("<unwatched?>" if unwatched(event, now) else "<pending>")
    figures = [str(status.get(k, "-")) for k in ("sold", "held", "available", "waitlisted")]
    return [
        meta.get("namespace", ""),
        meta.get("name", ""),
        phase,
        ready_text,
        *figures,
        scaling_text(event, target, now),
    ]


HEADERS = ["NAMESPACE", "NAME", "PHASE", "READY", "SOLD", "HELD", "AVAILABLE", "WAITLIST",
           "SCALING"]  # fmt: skip


def table(rows: Sequence[Sequence[str]], *, with_namespace: bool) -> str:
    """Rows aligned in columns, like kubectl's own tables."""
    headers = HEADERS if with_namespace else HEADERS[1:]
    cells = [list(r) if with_namespace else list(r[1:]) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [headers, *cells]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
