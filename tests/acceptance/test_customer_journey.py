"""The customer journey (tests/support/journey.py) against `evently up` on this machine.

tests/e2e/test_customers.py runs the same file inside the test cluster, so what passes
here and there is one scenario.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evently.users.demo import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support import journey
from tests.support.platform import running_platform


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`evently up --demo` (embedded PostgreSQL, the demo admin), once its demo is loaded."""
    with running_platform(tmp_path_factory.mktemp("journey") / ".evently") as platform:
        platform.output.wait_for("Demo data:")
        yield platform.base


def check_journey(seen: dict) -> None:
    """What every run of the journey must have seen, wherever it ran."""
    assert seen["event_id"] in seen["search_ids"]
    assert seen["stream_content_type"].startswith("text/event-stream")
    assert seen["stream_first"]["available"] == 2
    assert seen["hold_status"] == "held"
    assert (seen["stream_after_hold"]["held"], seen["stream_after_hold"]["available"]) == (2, 0)
    assert seen["waitlist_joined"] == ["waiting", 1]
    assert (seen["confirm_status"], seen["cancel_status"]) == ("confirmed", "cancelled")
    assert seen["offer_confirmed"] == ["confirmed", 1]
    assert seen["waitlist_final"] == "converted"
    assert seen["alice_bookings"] == ["cancelled"]
    door = seen["door"]
    assert door["customer_scan_status"] == 403
    assert door["listed"] and door["list_kid_published"]
    assert door["scans"] == [["valid", "north"], ["already_checked_in", "north"]]
    assert door["checked_in_reported"] == 1


def test_the_customer_journey_through_the_gateway(gateway: str) -> None:
    check_journey(journey.run([(".*", gateway)], ADMIN_EMAIL, ADMIN_PASSWORD))
