"""What the gateway forwards is what the upstream can read."""

from __future__ import annotations

import gzip
import json

from tests.support.raw_http import raw_request
from tests.support.recording_upstreams import start_recording_gateway


async def test_a_gzipped_body_is_forwarded_decoded_without_its_content_encoding(
    aiohttp_server,
) -> None:
    gateway = await start_recording_gateway(aiohttp_server)
    login = json.dumps({"email": "x@example.com", "password": "y" * 12}).encode()
    response = await raw_request(
        "127.0.0.1",
        gateway.port,
        "/api/v1/auth/login",
        method="POST",
        headers=[
            ("Host", "evently.local"),
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        body=gzip.compress(login),
    )
    assert response.status == 200, response.body
    (forwarded,) = gateway.seen
    assert forwarded.body == login
    assert "content-encoding" not in {name.lower() for name in forwarded.headers}
