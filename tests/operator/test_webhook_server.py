"""The webhook server's protocol edges, over real HTTP (the checks themselves are
exercised through the real API server in test_webhook.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from evently_operator.config import load_operator_settings
from evently_operator.kubeapi import KubeApi
from evently_operator.resource import FINALIZER
from evently_operator.webhook_server import webhook_app
from tests.operator.conftest import event_manifest

SETTINGS = {"DATABASE_URL": "postgresql://db/evently", "INTERNAL_API_KEY": "k" * 20}


@pytest.fixture
async def client(aiohttp_client):
    # No API server is reached by these requests: a KubeApi that points nowhere.
    kube = KubeApi.__new__(KubeApi)
    return await aiohttp_client(webhook_app(kube, load_operator_settings(SETTINGS)))


def review(obj: dict[str, Any] | None, **request: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"uid": "u-1", "operation": "CREATE", **request}
    if obj is not None:
        payload["object"] = obj
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": payload}


async def test_not_a_review_is_a_400(client):
    for body in (b"{not json", b"[]", b'{"request": 3}'):
        response = await client.post("/validate-event", data=body)
        assert response.status == 400, body


async def test_no_object_is_allowed(client):
    response = await client.post("/validate-event", json=review(None, operation="DELETE"))
    answer = await response.json()
    assert answer["response"] == {"uid": "u-1", "allowed": True}
    assert answer["kind"] == "AdmissionReview"


@pytest.mark.parametrize(
    ("finalizers", "op", "value"),
    [(None, "add", [FINALIZER]), (["other.io/keep"], "replace", ["other.io/keep", FINALIZER])],
)
async def test_the_finalizer_is_added_once(client, finalizers, op, value):
    metadata: dict[str, Any] = {"name": "e", "namespace": "n"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    new = {"metadata": metadata, "spec": event_manifest("e")["spec"]}
    response = await client.post("/admit-creation", json=review(new))
    answer = (await response.json())["response"]
    assert answer["allowed"] is True and answer["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert ops == [{"op": op, "path": "/metadata/finalizers", "value": value}]

    metadata["finalizers"] = value  # already there: nothing to add
    response = await client.post("/admit-creation", json=review(new))
    assert (await response.json())["response"] == {"uid": "u-1", "allowed": True}


@pytest.mark.parametrize("path", ["/admit-creation", "/add-finalizer"])
async def test_a_creation_is_judged_in_the_same_request(client, path):
    """The mutating webhook refuses what the operator would mark Invalid (the chart's
    validating webhook sees only updates), and adds nothing then. /add-finalizer is the
    path an older chart's configuration calls during an upgrade."""
    new = event_manifest("backwards", starts_in=7200, ends_in=3600)
    new["metadata"]["namespace"] = "n"
    response = await client.post(path, json=review(new))
    answer = (await response.json())["response"]
    assert answer["allowed"] is False and "patch" not in answer
    assert answer["status"]["code"] == 422
    assert "EndsBeforeStart" in answer["status"]["message"]
