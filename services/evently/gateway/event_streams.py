"""Event streams through the gateway, relayed byte for byte.

Forwarded through aiohttp's client, every message of every event stream costs the
gateway a parse, a task wake-up and a re-framed write: with thousands of watchers of
one event, that is most of a change's cost (docs/benchmarks.md, "Live availability").
A request that asks for an event stream (``GET``, HTTP/1.1, ``Accept: text/event-stream``)
is therefore relayed on a plain connection of its own: the upstream's response head is
read once and answered with the gateway's headers, then the upstream's body, already
framed as HTTP/1.1 chunks, is written as it is to the client's connection straight from
the upstream socket's read callback (only the chunk sizes are followed, to hold back the
final empty chunk, which the gateway writes itself). Flow control is kept: while the
client's connection is backed up, the upstream connection is not read.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from evently.core.disconnects import DISCONNECTS
from evently.core.middleware import add_response_headers

HEAD_LIMIT = 64 * 1024
CONNECT_TIMEOUT_S = 5.0
BACKED_UP_BYTES = 64 * 1024


def wants_event_stream(request: web.Request) -> bool:
    """Whether ``request`` asks for an event stream the gateway can relay byte for byte."""
    return (
        request.method == "GET"
        and request.version >= (1, 1)
        and "text/event-stream" in request.headers.get("Accept", "")
        and not request.body_exists
    )


class UpstreamRelay(asyncio.Protocol):
    """The upstream connection: reads the response head, then hands the body's bytes
    to ``sink`` (the client's transport) as they arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[tuple[int, CIMultiDict[str]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.done = asyncio.Event()
        self.sink: asyncio.Transport | None = None
        self.chunked = True
        self.body = bytearray()  # what came before the relay began
        self.arrived = asyncio.Event()
        self._buffer = bytearray()
        self._in_chunk = 0  # payload bytes (and CRLF) of the current chunk still to pass
        self._line = bytearray()  # an incomplete chunk-size line
        self.backed_up = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionError(f"upstream closed: {exc}"))
        self.done.set()
        self.arrived.set()

    def data_received(self, data: bytes) -> None:
        if not self.head.done():
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > HEAD_LIMIT:
                    self.head.set_exception(ConnectionError("upstream response head too long"))
                return
            head, rest = bytes(self._buffer[:end]), bytes(self._buffer[end + 4 :])
            self._buffer.clear()
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers: CIMultiDict[str] = CIMultiDict()
            for line in lines:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
            self.body += rest
            self.head.set_result((int(status_line.split(" ", 2)[1]), headers))
            return
        if self.sink is None:
            self.body += data
            self.arrived.set()
        else:
            self.relay(data)

    def relay(self, data: bytes) -> None:
        """Pass ``data`` (the upstream body) on to the client, whole chunks as they are."""
        sink = self.sink
        if sink is None or sink.is_closing():
            return
        if not self.chunked:
            sink.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            sink.write(self._complete_chunks(data))
        if sink.get_write_buffer_size() > BACKED_UP_BYTES and self.transport is not None:
            self.transport.pause_reading()
            self.backed_up.set()

    def _complete_chunks(self, data: bytes) -> bytes:
        """``data`` up to (not including) the final empty chunk, which ends the relay; an
        incomplete chunk-size line is held back until its end arrives."""
        if self._line:
            data = bytes(self._line) + data
            self._line.clear()
        out: list[bytes] = []
        position, size_of_data = 0, len(data)
        while position < size_of_data:
            if self._in_chunk:
                step = min(self._in_chunk, size_of_data - position)
                out.append(data[position : position + step])
                self._in_chunk -= step
                position += step
                continue
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                self._line += data[position:]
                break
            size = int(data[position:line_end].split(b";", 1)[0], 16)
            if size == 0:
                self.done.set()
                break
            out.append(data[position : line_end + 2])
            self._in_chunk = size + 2  # the payload and its CRLF
            position = line_end + 2
        return out[0] if len(out) == 1 else b"".join(out)

    async def resume_when_drained(self, request: web.Request) -> None:
        """While the relay runs: read the upstream again once the client drained."""
        while True:
            await self.backed_up.wait()
            self.backed_up.clear()
            await request.writer.drain()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()


async def relay_event_stream(
    request: web.Request, target: URL, headers: dict[str, str], hop_by_hop: set[str]
) -> web.StreamResponse:
    """Forward ``request`` to ``target`` on a connection of its own and relay the answer."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT_S):  # as the proxy's client session
        transport, upstream = await loop.create_connection(
            UpstreamRelay, target.raw_host or "127.0.0.1", target.port
        )
    lines = [f"GET {target.raw_path_qs} HTTP/1.1", f"Host: {target.raw_authority}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    transport.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
    draining: asyncio.Task[None] | None = None
    try:
        status, upstream_headers = await upstream.head
        kept = {k: v for k, v in upstream_headers.items() if k.lower() not in hop_by_hop}
        length = upstream_headers.get("Content-Length")
        if length is not None:  # an answer, not a stream (an error, say)
            while len(upstream.body) < int(length) and not upstream.done.is_set():
                upstream.arrived.clear()
                await upstream.arrived.wait()
            return web.Response(
                status=status, body=bytes(upstream.body[: int(length)]), headers=kept
            )
        response = web.StreamResponse(status=status, headers=kept)
        response.enable_chunked_encoding()
        add_response_headers(request, response)
        await response.prepare(request)
        request.writer.send_headers()  # type: ignore[attr-defined]
        upstream.chunked = "chunked" in upstream_headers.get("Transfer-Encoding", "").lower()
        upstream.sink = request.transport  # type: ignore[assignment]
        if upstream.body:
            upstream.relay(bytes(upstream.body))
        draining = asyncio.create_task(upstream.resume_when_drained(request))
        disconnects = request.app[DISCONNECTS]
        disconnects.watch(request, on_gone=upstream.done.set)
        try:
            await upstream.done.wait()
        finally:
            disconnects.unwatch(request)
        return response
    finally:
        if draining is not None:
            draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await draining
        transport.close()
