"""kopf's bookkeeping: where it is kept, and what a creation costs the API server."""

from __future__ import annotations

import json
import re

import kopf

from evently_operator.resource import KOPF_STATUS
from evently_operator.runtime import StatusDiffBase
from tests.operator.conftest import event_manifest, wait_for

LEGACY = "operator.evently.io"


def event_patches(kube) -> dict[str, float]:
    """PATCHes of Event resources the API server has answered: the object, its status."""
    counts = {"object": 0.0, "status": 0.0}
    for line in kube.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if (labels.get("group"), labels.get("resource"), labels.get("verb")) != (
            "evently.io",
            "events",
            "PATCH",
        ):
            continue
        counts["status" if labels.get("subresource") == "status" else "object"] += float(
            line.rsplit(" ", 1)[1]
        )
    return counts


async def test_a_creation_patches_the_object_once_and_keeps_kopfs_record_in_the_status(
    operator, resources, kube
):
    names = [f"fresh-{i}" for i in range(5)]
    before = event_patches(kube)
    for name in names:
        resources.apply(event_manifest(name, opens_in=3600))
    await wait_for(
        lambda: all(resources.status(n).get("phase") == "Scheduled" for n in names),
        what="every Event reconciled",
    )
    after = event_patches(kube)
    # The finalizer is the one PATCH of the object; the last handled spec goes with the
    # status, not in an annotation PATCH of its own.
    assert after["object"] - before["object"] == len(names)
    assert after["status"] - before["status"] >= len(names)
    for name in names:
        body = resources.get(name)
        annotations = body["metadata"].get("annotations") or {}
        assert not [a for a in annotations if a.startswith(f"{LEGACY}/")], annotations
        handled = json.loads(body["status"]["kopf"]["last-handled-configuration"])
        assert handled["spec"]["title"] == body["spec"]["title"]


async def test_an_event_handled_by_an_older_version_is_not_created_again(
    start_operator, resources, kube, namespace
):
    """Versions before kept the last handled spec in an annotation: it is still read, so
    an upgrade neither re-runs creation for every Event nor misses a spec change."""
    first = start_operator()
    resources.apply(event_manifest("veteran", opens_in=3600))
    await wait_for(lambda: resources.status("veteran").get("kopf"), what="kopf's record")
    first.stop()
    # As an older version left it: the record in annotations (with kopf's marker), none
    # in the status.
    handled = resources.status("veteran")["kopf"]["last-handled-configuration"]
    annotations = {
        f"{LEGACY}/kopf-managed": "yes",
        f"{LEGACY}/last-handled-configuration": handled,
    }
    resources.patch("veteran", {"metadata": {"annotations": annotations}})
    kube.kubectl("-n", namespace, "patch", "evt", "veteran", "--subresource=status",
                 "--type=merge", "-p", '{"status": {"kopf": null}}')  # fmt: skip
    assert "kopf" not in resources.status("veteran")

    second = start_operator()
    resources.patch("veteran", {"spec": {"title": "Renamed after the upgrade"}})
    await wait_for(lambda: "Updated" in resources.reasons("veteran"), what="an Updated Event")
    assert second.metric("evently_operator_reconciles_total", trigger="update") == 1
    assert second.metric("evently_operator_reconciles_total", trigger="create") == 0


def test_the_slim_essence_is_kopfs_essence():
    """The last handled spec is built without deep-copying managedFields and the status,
    and is still exactly what kopf's own storage builds."""
    body = kopf.Body(
        {
            "apiVersion": "evently.io/v1",
            "kind": "Event",
            "metadata": {
                "name": "a", "namespace": "n", "uid": "u", "generation": 3,
                "labels": {"team": "live"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                "note": "kept", f"{LEGACY}/kopf-managed": "yes"},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                "finalizers": ["evently.io/cancel-event"],
            },
            "spec": {"title": "t", "sale": {"opensAt": "2027-01-01T00:00:00Z"}},
            "status": {"phase": "Scheduled", "kopf": {"last-handled-configuration": "{}"}},
        }
    )  # fmt: skip
    ours = StatusDiffBase()
    kopfs = kopf.StatusDiffBaseStorage(field=f"{KOPF_STATUS}.last-handled-configuration")
    for extra in (None, [("spec",)], [("status", "phase")], [("metadata", "labels")]):
        essence = ours.build(body=body, extra_fields=extra)
        assert essence == kopfs.build(body=body, extra_fields=extra)
    assert ours.build(body=body, extra_fields=[("spec",)]) == {
        "spec": body["spec"],
        "metadata": {"labels": {"team": "live"}, "annotations": {"note": "kept"}},
    }
