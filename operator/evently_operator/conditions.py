"""Status conditions (Ready, Synced, Invalid, Scaled, Deprecated) in the Kubernetes
convention.

``lastTransitionTime`` changes only when a condition's status flips, so ``kubectl
describe`` shows when something started, not when it was last checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

READY = "Ready"
SYNCED = "Synced"
INVALID = "Invalid"
SCALED = "Scaled"  # only on Events with spec.scaling
DEPRECATED = "Deprecated"  # only while the spec uses a deprecated field
ORDER = (READY, SYNCED, INVALID, SCALED, DEPRECATED)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


def merge_conditions(
    current: Iterable[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    generation: int | None,
    now: dt.datetime,
    remove: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The full conditions list after applying ``updates`` to ``current``, without the
    types in ``remove`` (conditions that no longer apply)."""
    by_type = {c.get("type"): dict(c) for c in (current or []) if isinstance(c, Mapping)}
    for type_ in remove:
        by_type.pop(type_, None)
    stamp = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    for update in updates:
        status = "True" if update.status else "False"
        previous = by_type.get(update.type, {})
        changed = previous.get("status") != status
        entry = {
            "type": update.type,
            "status": status,
            "reason": update.reason,
            "message": update.message,
            "lastTransitionTime": stamp if changed else previous.get("lastTransitionTime", stamp),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        by_type[update.type] = entry
    known = [by_type.pop(t) for t in ORDER if t in by_type]
    return known + list(by_type.values())


def condition(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any]:
    """The condition of ``type_`` in a status's list, or an empty mapping."""
    for item in conditions or []:
        if isinstance(item, Mapping) and item.get("type") == type_:
            return item
    return {}
