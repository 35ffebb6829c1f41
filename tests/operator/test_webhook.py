"""Validation at apply time: the operator's webhook, called by the real API server.

The configuration is the chart's own (rules, path, failurePolicy Ignore), rendered by
helm, with its clientConfig pointed at the operator by URL (https://127.0.0.1:PORT) and a
certificate made for the test; on a real node the chart's Service-based one is used.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from evently_operator.resource import FINALIZER
from evently_operator.spec import check_spec, parse_spec
from tests.deploy.chart import render
from tests.operator.conftest import OperatorProcess, event_manifest, wait_for
from tests.operator.test_scaling_live import deployment, scaling
from tests.support.kube import free_port, write_serving_certificate


def chart_webhook(kind: str = "ValidatingWebhookConfiguration") -> dict[str, Any]:
    """The chart's entry for Events in its configuration of ``kind``."""
    (config,) = render().of_kind(kind)
    (webhook,) = config["webhooks"]
    return webhook


def dry_run(resources, manifest: dict[str, Any]):
    return resources.kube.kubectl(
        "-n", resources.namespace, "apply", "--dry-run=server", "-f", "-",
        input=yaml.safe_dump(manifest), check=False,
    )  # fmt: skip


def apply(resources, manifest: dict[str, Any]):
    return resources.kube.kubectl(
        "-n", resources.namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest),
        check=False,
    )  # fmt: skip


@pytest.fixture
async def webhook(
    kube, namespace, start_operator, resources, tmp_path
) -> AsyncIterator[OperatorProcess]:
    """An operator serving the webhook, and the chart's configuration pointing at it."""
    ca, cert, key = write_serving_certificate(tmp_path / "webhook")
    port = free_port()
    operator = start_operator(
        WEBHOOK_PORT=str(port), WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_CERT_FILE=str(cert), WEBHOOK_KEY_FILE=str(key),
    )  # fmt: skip
    # Only this test's namespace (Kubernetes 1.20 does not label namespaces by name).
    kube.kubectl("label", "namespace", namespace, f"evently-webhook-test={namespace}")
    name = f"evently-{namespace}"
    kinds = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
    for kind in kinds:
        entry = chart_webhook(kind)
        path = entry["clientConfig"]["service"]["path"]
        entry["clientConfig"] = {
            "url": f"https://127.0.0.1:{port}{path}",
            "caBundle": base64.b64encode(ca).decode(),
        }
        entry["namespaceSelector"] = {"matchLabels": {"evently-webhook-test": namespace}}
        kube.kubectl("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "webhooks": [entry],
        }))  # fmt: skip
    # The API server picks a new configuration up within a moment.
    probe = event_manifest("probe", starts_in=7200, ends_in=3600)
    await wait_for(lambda: dry_run(resources, probe).returncode != 0, what="the webhook in force")
    yield operator
    for kind in kinds:
        kube.kubectl("delete", kind.lower(), name, check=False)


def create(resources, manifest: dict[str, Any]) -> dict[str, Any]:
    """``kubectl create``: the object as the API server stored it at creation."""
    result = resources.kube.kubectl(
        "-n", resources.namespace, "create", "-o", "json", "-f", "-",
        input=yaml.safe_dump(manifest),
    )  # fmt: skip
    return json.loads(result.stdout)


def invalid_messages(manifest: dict[str, Any]) -> list[str]:
    """What the Invalid condition would say about ``manifest``."""
    return [p.message for p in check_spec(parse_spec(manifest["spec"]))]


async def test_kubectl_apply_refuses_what_the_operator_would_mark_invalid(webhook, resources):
    cases = {
        "backwards": (event_manifest("backwards", starts_in=7200, ends_in=3600),
                      "EndsBeforeStart"),
        "late-sale": (event_manifest("late-sale", opens_in=60, closes_in=9000, ends_in=7200),
                      "SaleEndsAfterEvent"),
        "no-target": (event_manifest("no-target", scaling=scaling("nowhere", 4)),
                      "ScaleTargetMissing"),
    }  # fmt: skip
    for name, (manifest, reason) in cases.items():
        result = apply(resources, manifest)
        assert result.returncode != 0, f"{name} was accepted"
        text = " ".join(result.stderr.split())
        assert "admission webhook" in text and reason in text, text
        for message in invalid_messages(manifest):  # the Invalid condition's own words
            assert message in text, text
        assert resources.get(name) is None
    assert "Deployment " + resources.namespace + "/nowhere does not exist" in " ".join(
        apply(resources, cases["no-target"][0]).stderr.split()
    )

    # A valid spec goes through; a deprecated field is a warning kubectl prints. kopf's
    # own patches (finalizer, annotations) and the operator's status pass too.
    resources.apply(deployment("web", 1))
    manifest = event_manifest("fine", scaling=scaling("web", 3, baselineReplicas=1))
    result = apply(resources, manifest)
    assert result.returncode == 0, result.stderr
    assert "Warning:" in result.stderr and "baselineReplicas is deprecated" in result.stderr
    await wait_for(lambda: resources.status("fine").get("phase") == "OnSale", what="OnSale")

    # Creations were refused by the mutating webhook (one request per creation); an
    # update that breaks the spec is refused by the validating one, and changes nothing.
    assert 'admission webhook "admit.events.evently.io" denied' in " ".join(
        apply(resources, cases["backwards"][0]).stderr.split()
    )
    backwards = event_manifest("fine", starts_in=7200, ends_in=3600)
    result = apply(resources, backwards)
    text = " ".join(result.stderr.split())
    assert result.returncode != 0 and "EndsBeforeStart" in text, text
    assert 'admission webhook "validate.events.evently.io" denied' in text, text
    assert resources.get("fine")["spec"]["endsAt"] == manifest["spec"]["endsAt"]


async def test_cleanup_is_never_blocked_and_an_outage_never_blocks_applies(
    webhook, resources, kube, namespace
):
    resources.apply(deployment("web", 1))
    resources.apply(event_manifest("kept", scaling=scaling("web", 2)))
    await wait_for(lambda: resources.status("kept").get("eventId"), what="eventId")
    # The target goes away: edits that leave the spec alone, and deletion, still pass.
    kube.kubectl("-n", namespace, "delete", "deployment", "web")
    kube.kubectl("-n", namespace, "label", "evt", "kept", "team=shows")
    resources.delete("kept")
    await wait_for(lambda: resources.get("kept") is None, what="the resource to go")

    # failurePolicy Ignore: with the operator gone, applies go through (the Invalid
    # phase is the backstop once an operator runs again), without the finalizer the
    # mutating webhook would add (kopf adds it when an operator sees the object).
    webhook.stop()
    broken = event_manifest("broken", starts_in=7200, ends_in=3600)
    result = apply(resources, broken)
    assert result.returncode == 0, result.stderr
    assert FINALIZER not in (resources.get("broken")["metadata"].get("finalizers") or [])


async def test_an_event_is_created_with_the_operators_finalizer_and_reconciled(webhook, resources):
    # The mutating webhook adds it at admission: the object the API server stored and
    # answered the POST with already has it, so the operator need not PATCH it in.
    manifest = event_manifest("finalized")
    manifest["metadata"]["finalizers"] = ["example.com/keep"]
    created = create(resources, manifest)
    assert created["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]
    await wait_for(lambda: resources.status("finalized").get("eventId"), what="eventId")
    assert resources.get("finalized")["metadata"]["finalizers"] == [
        "example.com/keep", FINALIZER,
    ]  # fmt: skip
    # Deletion runs behind it as before: the row is cancelled, then ours is removed.
    resources.kube.kubectl(
        "-n", resources.namespace, "delete", "evt", "finalized", "--wait=false"
    )  # fmt: skip
    await wait_for(
        lambda: (
            (resources.get("finalized") or {}).get("metadata", {}).get("finalizers")
            == ["example.com/keep"]
        ),
        what="the operator's finalizer removed",
    )
    resources.kube.kubectl(
        "-n", resources.namespace, "patch", "evt", "finalized", "--type=merge",
        "-p", '{"metadata": {"finalizers": null}}',
    )  # fmt: skip
