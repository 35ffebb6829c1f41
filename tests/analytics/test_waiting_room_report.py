"""Analytics shows a room's fairness report, fetched from the real waiting room service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evently.core.auth import AUTHENTICATOR
from tests.support.kube import free_port
from tests.waiting_room.conftest import configure_room, join, tick

ANALYTICS_REPORT = "/api/v1/admin/analytics/events/{}/waiting-room"


async def test_analytics_serves_the_rooms_own_report(
    aiohttp_client, aiohttp_server, make_app, make_analytics_app, tokens
):
    room_app = make_app("waiting_room", env={"WAITING_ROOM_TICKER_ENABLED": "false"})
    room_app[AUTHENTICATOR] = tokens.authenticator()
    room_server = await aiohttp_server(room_app, host="127.0.0.1")
    room = await aiohttp_client(room_server)
    await configure_room(room, 1)
    for user_id in (1, 2, 3):
        await join(room, tokens, 1, user_id)
    now = datetime.now(UTC)
    await tick(room, 1, now)
    await tick(room, 1, now + timedelta(seconds=2))
    analytics = await aiohttp_client(
        make_analytics_app(WAITING_ROOM_URL=str(room_server.make_url("")).rstrip("/"))
    )

    response = await analytics.get(ANALYTICS_REPORT.format(1), headers=tokens.admin())
    assert response.status == 200, await response.text()
    shown = await response.json()
    direct = await (
        await room.get("/api/v1/admin/events/1/waiting-room/report", headers=tokens.admin())
    ).json()
    assert shown.pop("generated_at") and direct.pop("generated_at")
    assert shown == direct and shown["admitted"] == 2

    missing = await analytics.get(ANALYTICS_REPORT.format(2), headers=tokens.admin())
    assert missing.status == 404
    assert (await missing.json())["code"] == "waiting_room_not_found"
    customer = await analytics.get(ANALYTICS_REPORT.format(1), headers=tokens.customer())
    assert customer.status == 403


async def test_a_room_that_is_down_is_a_503(aiohttp_client, make_analytics_app, tokens):
    analytics = await aiohttp_client(
        make_analytics_app(WAITING_ROOM_URL=f"http://127.0.0.1:{free_port()}")
    )
    response = await analytics.get(ANALYTICS_REPORT.format(1), headers=tokens.admin())
    assert response.status == 503
    assert (await response.json())["code"] == "waiting_room_unavailable"
