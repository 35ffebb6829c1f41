"""Request ids: accepted from the caller when well-formed, created otherwise."""

from __future__ import annotations

import json
import logging

from evently.core.logs import JsonFormatter, request_id_var


async def test_incoming_request_id_is_echoed(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


async def test_missing_request_id_is_created(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_unsafe_request_id_is_replaced(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"


def test_json_log_lines_carry_the_request_id_and_extras():
    token = request_id_var.set("rid-42")
    try:
        record = logging.LogRecord("evently.test", logging.INFO, __file__, 1, "hi %s", ("x",), None)
        record.seats = 3
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hi x"
    assert line["request_id"] == "rid-42"
    assert line["seats"] == 3
    assert line["level"] == "info"
