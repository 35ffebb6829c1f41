"""The operator in the cluster, with only its chart RBAC: the sample Event becomes a row and
`kubectl get evt` shows its phase and figures; the chart's validating webhook, reached by
the API server through the operator's Service with the certificate the chart generated,
refuses an Event that ends before it starts when `kubectl apply` runs.

The scaling rule on running pods is test_operator_scaling.py's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from tests.e2e.conftest import Release
from tests.e2e.event_resources import (
    apply_event,
    ends_before_it_starts,
    event_status,
    generated_event,
)
from tests.e2e.node import ROOT, wait_for

from evently_operator.resource import FINALIZER
from evently_operator.spec import check_spec, parse_spec

SAMPLE = ROOT / "manifests" / "samples" / "concert.yaml"


@pytest.fixture(scope="module")
def sample(release: Release) -> str:
    """The sample, moved from the namespace it names (the chart's usual one) to where this
    release's operator watches, as the Tiltfile does."""
    (doc,) = [d for d in yaml.safe_load_all(SAMPLE.read_text()) if d]
    doc["metadata"]["namespace"] = release.namespace
    release.node.kubectl("apply", "-f", "-", input=json.dumps(doc))
    return doc["metadata"]["name"]


def test_the_sample_event_becomes_a_row_and_kubectl_shows_it(release: Release, sample: str) -> None:
    done = wait_for(
        "the sample's eventId", lambda: event_status(release, sample).get("eventId"), 120
    )
    row = release.psql(f"select name, status, managed_by from events.events where id = {done}")
    assert row == f"Aurora Live 2027,published,kubernetes:{release.namespace}/{sample}"
    table = release.node.kubectl("-n", release.namespace, "get", "evt").stdout
    header, *rows = table.splitlines()
    (line,) = [r for r in rows if r.startswith(sample)]
    # QUEUE is blank for an Event without a waiting room.
    columns = [c for c in header.split() if c != "QUEUE"]
    shown = dict(zip(columns, line.split(), strict=True))
    assert shown == {
        "NAME": sample, "PHASE": "Scheduled", "READY": "True", "SOLD": "0",
        "AVAILABLE": "10000", "CAPACITY": "10000", "STARTS": "2027-06-12T18:00:00Z",
        "OPENS": "2027-03-01T09:00:00Z", "AGE": shown["AGE"],
    }  # fmt: skip


def test_the_charts_webhook_refuses_an_event_ending_before_it_starts(release: Release) -> None:
    node, namespace = release.node, release.namespace
    operator = release.component("operator")
    # The chart's configuration as installed: through the operator's Service, trusting the
    # CA the chart generated (and the operator serving the certificate it signed).
    configuration = node.kubectl_json(
        "get", "validatingwebhookconfiguration", f"{namespace}-{operator}"
    )
    (webhook,) = configuration["webhooks"]
    assert webhook["clientConfig"]["service"] == {
        "name": operator, "namespace": namespace, "path": "/validate-event", "port": 443,
    }  # fmt: skip
    secret = node.kubectl_json("-n", namespace, "get", "secret", f"{operator}-webhook-tls")
    assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    assert webhook["failurePolicy"] == "Ignore"  # so only a served answer can refuse

    # A creation is judged by the mutating webhook (one request per creation) ...
    backwards = ends_before_it_starts("e2e-backwards")
    result = apply_event(release, backwards, check=False)
    text = " ".join(result.stderr.split())
    assert result.returncode != 0, f"applied: {result.stdout} {text}"
    assert 'admission webhook "admit.events.evently.io" denied the request' in text, text
    messages = [p.message for p in check_spec(parse_spec(backwards["spec"]))]
    assert messages and all(m in text for m in messages), (messages, text)  # the Invalid words
    gone = node.kubectl("-n", namespace, "get", "evt", "e2e-backwards", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr

    # ... and an update by the validating one: a valid Event made to end before it starts.
    starts = datetime.now(UTC) + timedelta(days=3)
    valid = generated_event(
        "e2e-turned", starts=starts, opens=starts - timedelta(days=2),
        closes=starts - timedelta(days=1),
    )  # fmt: skip
    apply_event(release, valid)
    try:
        turned = ends_before_it_starts("e2e-turned")
        result = apply_event(release, turned, check=False)
        text = " ".join(result.stderr.split())
        assert result.returncode != 0, f"applied: {result.stdout} {text}"
        assert 'admission webhook "validate.events.evently.io" denied the request' in text, text
        turned_messages = [p.message for p in check_spec(parse_spec(turned["spec"]))]
        assert turned_messages and all(m in text for m in turned_messages), (turned_messages, text)
        kept = node.kubectl_json("-n", namespace, "get", "evt", "e2e-turned")
        assert kept["spec"]["startsAt"] == valid["spec"]["startsAt"]  # unchanged
    finally:
        node.kubectl("-n", namespace, "delete", "evt", "e2e-turned", "--wait=false")


def test_the_charts_mutating_webhook_creates_events_with_the_operators_finalizer(
    release: Release,
) -> None:
    node, namespace = release.node, release.namespace
    operator = release.component("operator")
    configuration = node.kubectl_json(
        "get", "mutatingwebhookconfiguration", f"{namespace}-{operator}"
    )
    (webhook,) = configuration["webhooks"]
    assert webhook["clientConfig"]["service"]["path"] == "/admit-creation"
    # A server-side dry run of a valid Event: the object as it would be stored already
    # carries the finalizer, added through the operator's Service at admission.
    starts = datetime.now(UTC) + timedelta(days=3)
    manifest = generated_event(
        "e2e-finalized", starts=starts, opens=starts - timedelta(days=2),
        closes=starts - timedelta(days=1),
    )  # fmt: skip
    result = node.kubectl(
        "-n", namespace, "create", "--dry-run=server", "-o", "json", "-f", "-",
        input=json.dumps(manifest),
    )  # fmt: skip
    assert FINALIZER in json.loads(result.stdout)["metadata"].get("finalizers", [])
