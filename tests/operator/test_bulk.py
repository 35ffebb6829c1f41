"""Many Events at once: each gets its phase announced once, and bulk deletes are quick."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
import yaml

from tests.operator.conftest import event_manifest, wait_for


def apply_all(resources, manifests: list[dict]) -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": manifests})
    resources.kube.kubectl("-n", resources.namespace, "apply", "-f", "-", input=text)


def phase_announcements(resources) -> Counter[tuple[str, str]]:
    """(resource, "A -> B") -> how many PhaseChanged Events said so (Kubernetes may fold
    repeats into one Event with a count)."""
    listing = resources.kube.kubectl_json("-n", resources.namespace, "get", "events.v1.")
    seen: Counter[tuple[str, str]] = Counter()
    for item in listing.get("items", []):
        if item.get("reason") == "PhaseChanged":
            transition = item["message"].split(" (")[0]
            seen[(item["involvedObject"]["name"], transition)] += item.get("count") or 1
    return seen


async def test_thirty_events_applied_at_once_each_announce_their_phase_once(operator, resources):
    names = [f"batch-{i:02d}" for i in range(30)]
    # Created while Scheduled; the sale opens a few seconds later: one PhaseChanged
    # (Scheduled -> OnSale) each, found by the level sweep.
    apply_all(resources, [event_manifest(name, opens_in=8) for name in names])
    await wait_for(
        lambda: all(resources.status(n).get("phase") == "OnSale" for n in names),
        within=60,
        what="every sale open",
    )
    # A few seconds of level passes (every second here), during which a pass on a stale
    # copy would announce the same change again.
    await asyncio.sleep(4)
    announced = await wait_for(
        lambda: (
            (seen := phase_announcements(resources))
            and all((n, "Scheduled -> OnSale") in seen for n in names)
            and seen
        ),
        what="a PhaseChanged per resource",
    )
    assert {key: count for key, count in announced.items() if count != 1} == {}


class HangingServer:
    """Accepts connections and never answers (a stuck dependency); counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging_bookings() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


async def test_a_bulk_delete_does_not_wait_for_passes_in_flight(
    start_operator, resources, db, hanging_bookings
):
    start_operator(BOOKINGS_URL=hanging_bookings.url, BOOKINGS_TIMEOUT_S="30")
    names = [f"gone-{i:02d}" for i in range(10)]
    apply_all(resources, [event_manifest(name) for name in names])
    ids = await wait_for(
        lambda: (
            all(resources.status(n).get("eventId") for n in names)
            and [resources.status(n)["eventId"] for n in names]
        ),
        within=60,
        what="every eventId",
    )
    # Bookings publishes new figures: each resource's next pass asks bookings, and hangs.
    await db.executemany(
        "INSERT INTO events.availability (event_id, version, capacity, sold, held, available,"
        " on_sale, sold_out, status) VALUES ($1, 2, 100, 1, 0, 99, true, false, 'published')",
        [(event_id,) for event_id in ids],
    )
    await wait_for(
        lambda: len(hanging_bookings.held) >= len(names), what="a stuck pass for every resource"
    )
    resources.kube.kubectl("-n", resources.namespace, "delete", "evt", "--all", "--wait=false")
    # Every pass is stuck for 30 s; the resources must not wait for them (nor for kopf's
    # 60-second polling of a daemon or timer that does not exit).
    await wait_for(
        lambda: (
            not resources.kube.kubectl(
                "-n", resources.namespace, "get", "evt", "-o", "name"
            ).stdout.strip()
        ),
        within=20,
        what="every resource to go",
    )
    cancelled = await db.fetchval(
        "SELECT count(*) FROM events.events WHERE status = 'cancelled' AND id = ANY($1)", ids
    )
    assert cancelled == len(names)
