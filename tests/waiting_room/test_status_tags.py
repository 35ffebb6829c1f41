"""What a visitor in line is shown (status_tags.py): ``ahead`` rounded beyond 99."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evently.waiting_room.status_tags import (
    RoomSnapshot,
    TicketRef,
    line_tag,
    line_ticket,
    line_view,
    shown_ahead,
    still_current,
)


@pytest.mark.parametrize(
    ("ahead", "shown"),
    [
        (0, 0),
        (99, 99),
        (100, 100),
        (101, 150),
        (149, 150),
        (151, 200),
        (999, 1000),
        (1000, 1000),
        (1001, 1500),
        (12345, 15000),
        (99999, 100000),
        (100001, 150000),
    ],
)
def test_ahead_is_exact_below_100_and_rounded_up_beyond(ahead: int, shown: int):
    assert shown_ahead(ahead) == shown


def test_an_etag_for_someone_else_or_a_stale_position_is_not_current():
    room = RoomSnapshot(
        7,
        serving=10,
        sold_out=False,
        when_sold_out="close",
        admission_rate_per_minute=60,
        shuffled=True,
    )
    tag = line_tag(5, 20, line_view(20, room))
    assert still_current(tag, 5, room)
    assert not still_current(tag, 6, room)  # another visitor
    assert not still_current(tag, 5, RoomSnapshot(8, 20, False, "close", 60, True))  # admitted
    assert not still_current(tag, 5, RoomSnapshot(8, 10, True, "close", 60, True))  # sold out
    prequeue = line_tag(5, None, line_view(None, RoomSnapshot(1, 0, False, "close", 60, False)))
    assert not still_current(prequeue, 5, room)  # shuffled since
    assert not still_current('"5.v7"', 5, RoomSnapshot(8, 10, False, "close", 60, True))
    assert still_current('"5.v7"', 5, room)


def test_an_in_line_tag_names_the_ticket_and_stays_current_with_it():
    room = RoomSnapshot(7, 10, False, "close", 60, True)
    joined = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    ref = TicketRef(42, joined)
    tag = line_tag(5, 20, line_view(20, room), ref)
    assert line_ticket(tag) == ref  # the join time to the microsecond
    assert still_current(tag, 5, room)
    assert not still_current(tag, 5, RoomSnapshot(8, 10, True, "close", 60, True))  # sold out
    assert line_ticket(line_tag(5, 20, line_view(20, room))) is None
    assert line_ticket('"5.v7"') is None
