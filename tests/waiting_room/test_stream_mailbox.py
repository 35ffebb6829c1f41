"""A stream's mailbox writes a new status straight to its connection, and keeps only the
newest for a client that is not reading (stream.py, ``StatusMailbox``), on a real socket."""

from __future__ import annotations

import asyncio
import socket

from evently.waiting_room.stream import SLOW_BUFFER_BYTES, StatusMailbox

# Bounds the reads of the test's own socket; never a speed assertion.
READ_BOUND_S = 10.0


async def connected_pair() -> tuple[asyncio.Transport, socket.socket]:
    """A real transport (the server's side of a connection) and the client's socket."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, sock=ours)
    theirs.setblocking(False)
    return transport, theirs  # type: ignore[return-value]


async def read_until(client: socket.socket, marker: bytes) -> bytes:
    """What the client reads until ``marker`` arrived."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    async with asyncio.timeout(READ_BOUND_S):
        while marker not in received:
            received += await loop.sock_recv(client, 65536)
    return bytes(received)


async def test_a_status_is_written_to_the_connection_at_once():
    transport, client = await connected_pair()
    try:
        mailbox = StatusMailbox(1, 7)
        mailbox.attach(transport, chunked=True)
        mailbox.offer(3, '{"state":"sold_out"}')
        assert not mailbox.pending  # written, not kept
        data = await read_until(client, b"}\n\n\r\n")
        event = b'id: 3\nevent: status\ndata: {"state":"sold_out"}\n\n'
        assert data == b"%x\r\n%b\r\n" % (len(event), event)  # one HTTP/1.1 chunk
    finally:
        transport.close()
        client.close()


async def test_a_client_that_does_not_read_gets_only_the_newest_status_once_it_drains():
    transport, client = await connected_pair()
    try:
        transport.write(b"x" * (4 * SLOW_BUFFER_BYTES))  # the client reads nothing yet
        assert transport.get_write_buffer_size() >= SLOW_BUFFER_BYTES
        mailbox = StatusMailbox(1, 7)
        mailbox.attach(transport, chunked=False)
        mailbox.offer(3, '{"state":"waiting","ahead":5}')
        mailbox.offer(4, '{"state":"sold_out"}')
        assert mailbox.pending
        assert await mailbox.wait(READ_BOUND_S)  # the handler is woken to write it
        reading = asyncio.ensure_future(read_until(client, b"sold_out"))
        async with asyncio.timeout(READ_BOUND_S):
            while transport.get_write_buffer_size() >= SLOW_BUFFER_BYTES:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        mailbox.flush()  # what the handler does once the connection drained
        data = await reading
        assert b"sold_out" in data
        assert b"ahead" not in data  # the older status was replaced, never sent
        assert not mailbox.pending
    finally:
        transport.close()
        client.close()


async def test_an_ended_stream_stops_waiting():
    mailbox = StatusMailbox(1, 7)
    waiting = asyncio.ensure_future(mailbox.wait(READ_BOUND_S))
    await asyncio.sleep(0)
    mailbox.end()
    assert await waiting is True
    assert mailbox.ended
