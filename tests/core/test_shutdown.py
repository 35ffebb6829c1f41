"""Graceful shutdown: an in-flight request finishes before the pool closes."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg

from evently.core.app import bind_socket, serve_apps
from evently.core.db import POOL
from tests.core.conftest import SLOW_RELEASE


async def test_in_flight_request_completes_after_stop_then_pool_closes(make_probe_app):
    app = make_probe_app()
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    started = asyncio.Event()
    server = asyncio.create_task(serve_apps([(app, sock)], 10.0, started.set, stop))
    await asyncio.wait_for(started.wait(), 10)
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/api/v1/slow"))
        await asyncio.sleep(0.3)
        stop.set()  # what SIGTERM does
        await asyncio.sleep(0.3)
        assert not server.done(), "server stopped before the in-flight request finished"
        pool = app[POOL]
        assert not pool.is_closing()
        app[SLOW_RELEASE].set()
        response = await asyncio.wait_for(in_flight, 10)
        assert response.status == 200
        assert await response.json() == {"done": True}
    await asyncio.wait_for(server, 15)
    assert pool.is_closing()


async def test_during_the_drain_it_still_answers_and_closes_each_connection(make_probe_app):
    """Keep-alive clients of a terminating pod get answers, each closing its connection,
    instead of a connection closed under their request (seen on the real node)."""
    app = make_probe_app()
    sock = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop = asyncio.Event()
    started = asyncio.Event()
    server = asyncio.create_task(serve_apps([(app, sock)], 10.0, started.set, stop, drain_s=2.0))
    await asyncio.wait_for(started.wait(), 10)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as before:
            assert before.status == 200
            assert before.headers.get("Connection", "").lower() != "close"
        stop.set()  # what SIGTERM does
        await asyncio.sleep(0.2)
        async with session.get(f"{url}/healthz") as draining:
            assert draining.status == 200
            assert draining.headers["Connection"].lower() == "close"
        async with session.get(f"{url}/readyz") as ready:
            assert ready.status == 503, "endpoints drop a draining pod"
        assert not server.done()
    await asyncio.wait_for(server, 15)


async def test_a_connection_never_released_cannot_hang_the_shutdown(
    make_probe_app, database_url, caplog
):
    """asyncpg's pool.close() waits for every acquired connection with no bound; past
    DB_POOL_CLOSE_TIMEOUT_S the pool is terminated, so the pod exits within its grace."""
    app = make_probe_app(DB_POOL_CLOSE_TIMEOUT_S="0.2")
    sock = bind_socket("127.0.0.1", 0)
    stop = asyncio.Event()
    started = asyncio.Event()
    server = asyncio.create_task(serve_apps([(app, sock)], 10.0, started.set, stop))
    await asyncio.wait_for(started.wait(), 10)
    leaked = await app[POOL].acquire()  # never released: what a leak or a stuck task leaves
    leaked_pid = leaked.get_server_pid()
    stop.set()
    # A bound on a hang, not a timing assertion: without the bound this never returns.
    await asyncio.wait_for(server, 60)
    assert app[POOL].is_closing()
    observer = await asyncpg.connect(database_url)
    try:
        for _ in range(200):  # the backend exits once it sees its socket closed
            still_there = await observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", leaked_pid
            )
            if not still_there:
                break
            await asyncio.sleep(0.05)
    finally:
        await observer.close()
    assert still_there == 0, "the leaked connection was cut"
    assert "1 connection(s) still in use" in caplog.text
