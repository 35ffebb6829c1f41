"""Every 4xx/5xx is RFC 9457 problem+json naming what failed, and changes nothing."""

from __future__ import annotations

import logging

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
async def client(aiohttp_client, make_probe_app):
    return await aiohttp_client(make_probe_app(MAX_BODY_BYTES="2048"))


def assert_problem(body: dict, status: int, code: str) -> None:
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://evently.io/problems/{code}"
    assert body["title"]


async def test_unknown_path_is_a_problem_404(client):
    response = await client.get("/nope")
    assert response.status == 404
    assert response.content_type == PROBLEM
    assert_problem(await response.json(), 404, "not_found")


async def test_wrong_method_is_a_problem_405_with_allow(client):
    response = await client.delete("/api/v1/probes")
    assert response.status == 405
    assert response.content_type == PROBLEM
    assert "POST" in response.headers["Allow"]
    assert_problem(await response.json(), 405, "method_not_allowed")


async def test_oversized_body_is_a_problem_413(client):
    response = await client.post(
        "/api/v1/probes",
        data=b'{"name": "' + b"x" * 5000 + b'", "seats": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert response.content_type == PROBLEM
    assert_problem(await response.json(), 413, "payload_too_large")


async def test_malformed_json_is_a_problem_400(client):
    response = await client.post(
        "/api/v1/probes", data=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    body = await response.json()
    assert_problem(body, 400, "malformed_json")
    assert body["errors"] == [{"field": "body", "reason": "malformed JSON"}]


async def test_wrong_content_type_is_a_problem_415(client):
    response = await client.post(
        "/api/v1/probes", data=b"name=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert_problem(await response.json(), 415, "unsupported_media_type")


async def test_missing_body_names_the_body(client):
    response = await client.post(
        "/api/v1/probes", data=b"", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    body = await response.json()
    assert_problem(body, 400, "validation_failed")
    assert body["errors"] == [{"field": "body", "reason": "required"}]


async def test_invalid_fields_are_each_named_with_a_reason(client):
    response = await client.post("/api/v1/probes", json={"name": "", "seats": 99, "extra": 1})
    assert response.status == 400
    body = await response.json()
    assert_problem(body, 400, "validation_failed")
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert set(fields) == {"body.name", "body.seats", "body.extra"}
    assert fields["body.extra"] == "unknown field"
    assert "10" in fields["body.seats"]


async def test_missing_field_is_named(client):
    response = await client.post("/api/v1/probes", json={"name": "ok"})
    body = await response.json()
    assert response.status == 400
    assert body["errors"] == [{"field": "body.seats", "reason": "Field required"}]


async def test_bad_and_unknown_query_parameters_are_named(client):
    response = await client.get("/api/v1/probes/5?limit=500&color=red")
    assert response.status == 400
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"query.limit", "query.color"}


async def test_malformed_path_parameter_is_a_404(client):
    response = await client.get("/api/v1/probes/abc")
    assert response.status == 404
    assert_problem(await response.json(), 404, "not_found")


async def test_domain_errors_carry_their_code_and_extension_members(client):
    response = await client.post("/api/v1/probes", json={"name": "taken", "seats": 1})
    assert response.status == 409
    body = await response.json()
    assert_problem(body, 409, "probe_name_taken")
    assert body["name"] == "taken"
    assert body["detail"] == "That name is taken"


async def test_valid_request_succeeds(client):
    response = await client.post("/api/v1/probes", json={"name": "ok", "seats": 2})
    assert response.status == 201
    assert await response.json() == {"name": "ok", "seats": 2}


async def test_crash_is_a_500_without_traceback_and_logs_it_with_the_request_id(client, caplog):
    caplog.set_level(logging.ERROR, logger="evently.http")
    response = await client.get("/api/v1/boom", headers={"X-Request-ID": "req-boom-1"})
    assert response.status == 500
    text = await response.text()
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    body = await response.json()
    assert_problem(body, 500, "internal_error")
    assert body["request_id"] == "req-boom-1"
    assert response.headers["X-Request-ID"] == "req-boom-1"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])
