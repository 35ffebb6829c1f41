"""A raw HTTP/1.1 client: sends a request target exactly as written.

Real clients (aiohttp, urllib, curl without ``--path-as-is``) normalise dot segments and
re-encode paths before sending, which hides exactly the tricks the gateway must refuse.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    """What came back: status, lower-cased headers and the body as bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(
    host: str,
    port: int,
    target: str,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    timeout_s: float = 10,
) -> RawResponse:
    """Send one request with ``target`` verbatim (``Connection: close``) and read the answer."""
    lines = [f"{method} {target} HTTP/1.1"]
    sent_headers = headers if headers is not None else [("Host", f"{host}:{port}")]
    lines += [f"{name}: {value}" for name, value in sent_headers]
    lines += ["Connection: close", f"Content-Length: {len(body)}" if body else ""]
    request = ("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode("latin-1") + body
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    return parse_response(data)


def parse_response(data: bytes) -> RawResponse:
    """Split one HTTP/1.x response (identity or chunked body) into its parts."""
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        payload = _dechunk(payload)
    return RawResponse(int(status_line.split()[1]), headers, payload)


def _dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return out
