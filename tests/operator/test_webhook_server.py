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
    response = await client.post("/add-finalizer", json=review({"metadata": metadata}))
    answer = (await response.json())["response"]
    assert answer["allowed"] is True and answer["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert ops == [{"op": op, "path": "/metadata/finalizers", "value": value}]

    metadata["finalizers"] = value  # already there: nothing to add
    response = await client.post("/add-finalizer", json=review({"metadata": metadata}))
    assert (await response.json())["response"] == {"uid": "u-1", "allowed": True}
