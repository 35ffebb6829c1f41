"""Event resources as the e2e operator tests write and read them on the node."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Release


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def generated_event(
    name: str,
    *,
    starts: datetime,
    opens: datetime,
    closes: datetime,
    scaling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A published Event resource whose event starts at ``starts`` and lasts two hours."""
    spec: dict[str, Any] = {
        "title": f"E2E {name}",
        "type": "concert",
        "venue": {"name": "Node Hall", "address": "1 Bridge St", "city": "Berlin",
                  "capacity": 500},
        "startsAt": iso(starts),
        "endsAt": iso(starts + timedelta(hours=2)),
        "capacity": 300,
        "price": {"amount": "30.00", "currency": "EUR"},
        "sale": {"opensAt": iso(opens), "closesAt": iso(closes)},
    }  # fmt: skip
    if scaling is not None:
        spec["scaling"] = scaling
    return {"apiVersion": "evently.io/v1", "kind": "Event", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def ends_before_it_starts(name: str) -> dict[str, Any]:
    """An Event the operator would mark Invalid (EndsBeforeStart), and nothing else wrong."""
    starts = datetime.now(UTC) + timedelta(days=3)
    manifest = generated_event(
        name, starts=starts, opens=starts - timedelta(days=2), closes=starts - timedelta(days=1)
    )
    manifest["spec"]["startsAt"] = iso(starts + timedelta(hours=3))  # after endsAt (+2 h)
    return manifest


def apply_event(
    release: Release, manifest: dict[str, Any], *options: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``kubectl apply`` in the release namespace (stderr has the webhook's warnings)."""
    return release.node.kubectl(
        "-n", release.namespace, "apply", *options, "-f", "-", input=json.dumps(manifest),
        check=check,
    )  # fmt: skip


def event_status(release: Release, name: str) -> dict[str, Any]:
    obj = release.node.kubectl_json("-n", release.namespace, "get", "evt", name)
    return obj.get("status", {})


def condition_reason(status: dict[str, Any], kind: str) -> str | None:
    """The reason of the status condition of type ``kind`` (None when it is absent)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("reason")
    return None


def posted_on_any(release: Release, reason: str) -> list[str]:
    """The messages of the Kubernetes Events with ``reason`` about any Event resource.

    A Deployment claimed by several Events is scaled by one shared pass, announced on the
    Event whose worker ran it (``scale_targets.settle``): not necessarily the one whose
    window caused it."""
    listing = release.node.kubectl_json(
        "-n", release.namespace, "get", "events",
        "--field-selector", f"involvedObject.kind=Event,reason={reason}",
    )  # fmt: skip
    return [item.get("message", "") for item in listing["items"]]
