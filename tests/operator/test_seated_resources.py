"""An Event resource can declare a seated event on a stored seat map (docs/seating.md):
the spec reads it, the row is written with it and then stays up to date, and a map the
events service does not have is a spec problem naming ``spec.seating``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evently.core.db import init_connection
from evently.events import seat_maps, venues
from evently.events.models import ReservedSeats
from evently.events.seat_map_rules import parse_seat_map
from evently.events.seating_models import VenueDetails
from evently_operator.reconcile import RowAction, sync_row
from evently_operator.spec import SpecError, read_valid_spec, to_event_input
from tests.events.test_seat_map_rules import small_map
from tests.operator.conftest import sample

OWNER = "kubernetes:evently/seated-concert"


def seated_spec(map_id: int, version: int = 1, capacity: int = 6) -> dict:
    raw = sample("concert")["spec"]
    return {
        **raw,
        "capacity": capacity,
        "maxPerUser": 2,
        "seating": {"mapId": map_id, "mapVersion": version},
    }


def test_the_spec_reads_seating_and_hands_it_to_the_events_service():
    spec = read_valid_spec(seated_spec(7, 3))
    assert (spec.seating.map_id, spec.seating.map_version) == (7, 3)
    data = to_event_input(spec, status="published")
    assert data.seating is not None and data.seating.map_id == 7
    assert (
        to_event_input(read_valid_spec(sample("concert")["spec"]), status="draft").seating is None
    )


def test_a_malformed_seating_names_its_field():
    with pytest.raises(SpecError) as excinfo:
        read_valid_spec({**seated_spec(1), "seating": {"mapId": 0, "mapVersion": 1}})
    assert any("seating.mapId" in p.message for p in excinfo.value.problems)


async def nothing_reserved(event_id: int) -> ReservedSeats:
    return ReservedSeats()


@pytest.fixture
async def conn(database_url):
    import asyncpg

    connection = await asyncpg.connect(database_url)
    await init_connection(connection)
    yield connection
    await connection.close()


@pytest.fixture
async def map_at_the_samples_venue(conn) -> int:
    """The small map (6 sellable seats) at the concert sample's venue."""
    venue = sample("concert")["spec"]["venue"]
    created = await venues.create_venue(conn, VenueDetails.model_validate(venue))
    info = await seat_maps.create_seat_map(
        conn, created.id, parse_seat_map(small_map()), source="upload"
    )
    return info.map_id


async def test_a_seated_resource_writes_a_seated_row_that_then_stays_up_to_date(
    conn, map_at_the_samples_venue
):
    spec = read_valid_spec(seated_spec(map_at_the_samples_venue))
    first = await sync_row(conn, spec, OWNER, known_event_id=None, reserved_seats=nothing_reserved)
    assert first.action == RowAction.CREATED
    assert first.event.seating is not None and first.event.capacity == 6
    again = await sync_row(
        conn, spec, OWNER, known_event_id=first.event.id, reserved_seats=nothing_reserved
    )
    assert again.action == RowAction.UNCHANGED and again.event.version == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"version": 9}, "spec.seating"), ({"capacity": 5}, "spec.capacity")],
)
async def test_a_map_version_or_capacity_the_events_service_refuses_is_a_spec_problem(
    conn, map_at_the_samples_venue, overrides, field
):
    spec = read_valid_spec(seated_spec(map_at_the_samples_venue, **overrides))
    with pytest.raises(SpecError) as excinfo:
        await sync_row(conn, spec, OWNER, known_event_id=None, reserved_seats=nothing_reserved)
    assert [p.reason for p in excinfo.value.problems] == ["RejectedByEventsService"]
    assert excinfo.value.problems[0].message.startswith(f"{field}:")
    assert await conn.fetchval("SELECT count(*) FROM events.events") == 0


def test_the_spec_reads_zone_prices_and_hands_them_to_the_events_service():
    raw = seated_spec(7)
    raw["seating"]["zonePrices"] = {"premium": "89.00", "std.rear": "19.5"}
    spec = read_valid_spec(raw)
    assert spec.seating.zone_prices == (
        ("premium", Decimal("89.00")),
        ("std.rear", Decimal("19.5")),
    )
    data = to_event_input(spec, status="published")
    assert data.seating.zone_prices == {"premium": Decimal("89.00"), "std.rear": Decimal("19.5")}
    raw["seating"]["zonePrices"] = {"premium": 89}
    with pytest.raises(SpecError) as excinfo:
        read_valid_spec(raw)
    assert any("seating.zonePrices.premium" in p.message for p in excinfo.value.problems)


async def test_a_resources_zone_prices_reach_the_row_and_a_change_updates_it(
    conn, map_at_the_samples_venue
):
    raw = seated_spec(map_at_the_samples_venue)
    raw["seating"]["zonePrices"] = {"premium": "89.00"}
    first = await sync_row(
        conn, read_valid_spec(raw), OWNER, known_event_id=None, reserved_seats=nothing_reserved
    )
    assert first.event.seating.zone_prices == {"premium": Decimal("89.00")}
    again = await sync_row(
        conn, read_valid_spec(raw), OWNER, known_event_id=first.event.id,
        reserved_seats=nothing_reserved,
    )  # fmt: skip
    assert again.action == RowAction.UNCHANGED
    raw["seating"]["zonePrices"] = {"premium": "95.00"}
    changed = await sync_row(
        conn, read_valid_spec(raw), OWNER, known_event_id=first.event.id,
        reserved_seats=nothing_reserved,
    )  # fmt: skip
    assert changed.action == RowAction.UPDATED and changed.event.version == 2
    assert changed.event.seating.zone_prices == {"premium": Decimal("95.00")}


async def test_a_zone_the_map_does_not_sell_is_a_spec_problem_naming_it(
    conn, map_at_the_samples_venue
):
    raw = seated_spec(map_at_the_samples_venue)
    raw["seating"]["zonePrices"] = {"gold": "10.00"}
    with pytest.raises(SpecError) as excinfo:
        await sync_row(
            conn, read_valid_spec(raw), OWNER, known_event_id=None, reserved_seats=nothing_reserved
        )
    (problem,) = excinfo.value.problems
    assert problem.reason == "InvalidZonePrices"
    assert problem.message.startswith("spec.seating.zonePrices.gold:")
    assert await conn.fetchval("SELECT count(*) FROM events.events") == 0


async def test_a_resources_channels_reach_the_row_and_a_bad_seat_is_a_spec_problem(
    conn, map_at_the_samples_venue
):
    raw = seated_spec(map_at_the_samples_venue)
    raw["seating"]["channels"] = {"promoter-x": ["vip-1"]}
    first = await sync_row(
        conn, read_valid_spec(raw), OWNER, known_event_id=None, reserved_seats=nothing_reserved
    )
    assert first.event.seating.channels == {"promoter-x": ["vip-1"]}
    raw["seating"]["channels"] = {"promoter-x": ["vip-1", "nope"]}
    with pytest.raises(SpecError) as excinfo:
        await sync_row(
            conn, read_valid_spec(raw), OWNER, known_event_id=first.event.id,
            reserved_seats=nothing_reserved,
        )  # fmt: skip
    (problem,) = excinfo.value.problems
    assert problem.reason == "InvalidChannels"
    assert problem.message.startswith("spec.seating.channels.promoter-x.1:")
