"""``kubectl get evt`` shows a waiting room's queue length (``status.waitingRoom``).

The waiting room service runs for real on 127.0.0.1; the test plays the events outbox
(it delivers the event's ``event.changed`` to the room's inbox) and the visitors (they
join through the room's public API). The operator reads the room's public view at each
level sweep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evently.core.auth import AUTHENTICATOR
from tests.operator.conftest import event_manifest, iso_in, wait_for
from tests.support.tokens import TokenMinter
from tests.waiting_room.conftest import configure_room, join, tick

ROOM = {"admissionRatePerMinute": 60, "maxActiveShoppers": 40, "sessionTTL": "2m"}


@pytest.fixture
async def room_server(make_app, aiohttp_server):
    tokens = TokenMinter()
    app = make_app("waiting_room", env={"WAITING_ROOM_TICKER_ENABLED": "false"})
    app[AUTHENTICATOR] = tokens.authenticator()
    server = await aiohttp_server(app, host="127.0.0.1")
    server.tokens = tokens
    return server


def queue_length(resources, name: str) -> int | None:
    return (resources.status(name).get("waitingRoom") or {}).get("queueLength")


async def test_status_and_kubectl_get_show_the_rooms_queue_length(
    start_operator, resources, room_server, aiohttp_client
):
    room, tokens = await aiohttp_client(room_server), room_server.tokens
    start_operator(WAITING_ROOM_URL=str(room_server.make_url("")).rstrip("/"))
    resources.apply(event_manifest("queued", sale={"opensAt": iso_in(600), "waitingRoom": ROOM}))
    resources.apply(event_manifest("plain", opens_in=600))
    event_id = await wait_for(lambda: resources.status("queued").get("eventId"), what="eventId")
    await configure_room(room, event_id)  # its event.changed, as the events outbox sends it
    for user_id in (1, 2, 3):
        await join(room, tokens, event_id, user_id)

    await wait_for(lambda: queue_length(resources, "queued") == 3, what="queue length 3")
    listing = resources.kube.kubectl("-n", resources.namespace, "get", "evt").stdout
    header, *rows = listing.splitlines()
    start = header.index("QUEUE")  # columns are aligned; an absent value prints as blank
    end = header.index("STARTS")
    shown = {row.split()[0]: row[start:end].strip() for row in rows}
    assert shown == {"queued": "3", "plain": ""}

    now = datetime.now(UTC)
    await tick(room, event_id, now)
    assert (await tick(room, event_id, now + timedelta(seconds=2))).admitted == 2
    await wait_for(lambda: queue_length(resources, "queued") == 1, what="queue length 1")
    assert "waitingRoom" not in resources.status("plain")


async def test_a_room_that_is_down_never_fails_the_pass_and_keeps_the_last_length(
    start_operator, resources, room_server, aiohttp_client
):
    room, tokens = await aiohttp_client(room_server), room_server.tokens
    operator = start_operator(WAITING_ROOM_URL=str(room_server.make_url("")).rstrip("/"))
    resources.apply(event_manifest("queued", sale={"opensAt": iso_in(600), "waitingRoom": ROOM}))
    event_id = await wait_for(lambda: resources.status("queued").get("eventId"), what="eventId")
    await configure_room(room, event_id)
    await join(room, tokens, event_id, 1)
    await wait_for(lambda: queue_length(resources, "queued") == 1, what="queue length 1")

    await room_server.close()
    resources.patch("queued", {"spec": {"capacity": 150}})
    await wait_for(
        lambda: resources.status("queued").get("observedGeneration") == 2,
        what="the spec change reconciled with the room down",
    )
    assert queue_length(resources, "queued") == 1
    failed = [line for line in operator.log().splitlines() if "level pass for" in line]
    assert not failed, failed

    # Without a room, the field goes.
    resources.patch("queued", {"spec": {"sale": {"waitingRoom": None}}})
    await wait_for(
        lambda: "waitingRoom" not in resources.status("queued"), what="status.waitingRoom removed"
    )
