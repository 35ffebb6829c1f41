"""Seat map validation and the rectangular generator: pure functions, no database.

Every refusal names the JSON path of what failed (docs/seating.md)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from evently.core.errors import ValidationFailed
from evently.core.seat_maps import MAX_SEATS, resolved_seats
from evently.events.seat_map_generator import (
    RectangularMapSpec,
    rectangular_document,
    row_label,
)
from evently.events.seat_map_rules import MAX_REPORTED, PALETTE, parse_seat_map


def small_map() -> dict[str, Any]:
    """Two sections: stalls (rows A, B; zone by section, one premium row) and a box."""
    return {
        "name": "Small Hall",
        "stage": {"x": 10, "y": 5, "width": 100, "height": 20},
        "zones": [
            {"id": "premium", "name": "Premium", "color": "#aa0000"},
            {"id": "standard", "name": "Standard"},
        ],
        "sections": [
            {
                "id": "stalls",
                "zone": "standard",
                "rows": [
                    {
                        "id": "A",
                        "zone": "premium",
                        "seats": [
                            {"label": "1", "x": 10, "y": 40, "flags": ["accessible"]},
                            {"label": "2", "x": 20, "y": 40, "flags": ["companion"]},
                            {"label": "3", "x": 30, "y": 40},
                        ],
                    },
                    {
                        "id": "B",
                        "seats": [
                            {"label": "1", "x": 10, "y": 50, "flags": ["blocked"]},
                            {"label": "2", "x": 20, "y": 50, "flags": ["restricted_view"]},
                            {"id": "vip-1", "label": "3", "x": 30, "y": 50, "zone": "premium"},
                        ],
                    },
                ],
            },
            {
                "id": "box",
                "label": "Royal box",
                "rows": [
                    {
                        "id": "1",
                        "rank": 1,
                        "zone": "premium",
                        "seats": [{"label": "A", "x": 100, "y": 60}],
                    }
                ],
            },
        ],
    }


def fields(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    assert excinfo.value.status == 400 and excinfo.value.code == "validation_failed"
    return [error.field for error in excinfo.value.errors]


def refused(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as excinfo:
        parse_seat_map(data)
    return fields(excinfo)


def test_a_valid_map_is_normalised_with_every_default_made_explicit():
    valid = parse_seat_map(small_map())
    document = valid.document
    stalls = document.sections[0]
    assert stalls.label == "stalls" and document.sections[1].label == "Royal box"
    assert [row.rank for row in stalls.rows] == [1, 2]  # position in the section
    assert stalls.rows[1].label == "B"
    assert [seat.id for seat in stalls.rows[0].seats] == ["stalls-A-1", "stalls-A-2", "stalls-A-3"]
    assert stalls.rows[1].seats[2].id == "vip-1"  # an explicit id is kept
    assert document.zones[0].color == "#aa0000" and document.zones[1].color == PALETTE[1]
    assert document.width == 130 and document.height == 80  # stage and seats, plus margins


def test_counts_exclude_blocked_seats_from_sellable_and_follow_zone_inheritance():
    stats = parse_seat_map(small_map()).stats
    assert stats.seats == 7
    assert stats.sellable_seats == 6  # B-1 is blocked
    assert stats.accessible_seats == 1
    # premium: A-1..A-3, vip-1 (its own zone), box 1-A; standard: B-2 (B-1 is blocked)
    assert stats.zones == {"premium": 5, "standard": 1}


def test_resolved_seats_inherit_zone_from_row_then_section():
    seats = {seat.id: seat for seat in resolved_seats(parse_seat_map(small_map()).document)}
    assert seats["stalls-A-1"].zone == "premium"  # its row's
    assert seats["stalls-B-2"].zone == "standard"  # its section's
    assert seats["vip-1"].zone == "premium"  # its own
    assert seats["stalls-B-1"].sellable is False and seats["stalls-B-2"].sellable is True
    assert seats["box-1-A"].rank == 1 and seats["stalls-B-1"].rank == 2


def with_change(change) -> dict[str, Any]:
    data = small_map()
    change(data)
    return data


def seat(data: dict[str, Any], row: int, n: int) -> dict[str, Any]:
    return data["sections"][0]["rows"][row]["seats"][n]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda d: seat(d, 0, 1).update(label="1"),
            "body.sections.0.rows.0.seats.1.label",
        ),
        (
            lambda d: seat(d, 1, 0).update(id="vip-1"),
            "body.sections.0.rows.1.seats.2.id",
        ),
        (
            lambda d: seat(d, 0, 2).update(zone="gold"),
            "body.sections.0.rows.0.seats.2.zone",
        ),
        (
            lambda d: d["sections"][0].pop("zone"),
            "body.sections.0.rows.1.seats.0.zone",
        ),
        (
            lambda d: d["sections"][0]["rows"][1].update(id="A"),
            "body.sections.0.rows.1.id",
        ),
        (
            lambda d: d["sections"][1].update(id="stalls"),
            "body.sections.1.id",
        ),
        (
            lambda d: d["zones"].append({"id": "premium", "name": "Again"}),
            "body.zones.2.id",
        ),
        (
            lambda d: seat(d, 0, 0).update(flags=["accessible", "accessible"]),
            "body.sections.0.rows.0.seats.0.flags",
        ),
        (
            lambda d: seat(d, 0, 0).update(label="seat one"),
            "body.sections.0.rows.0.seats.0.id",
        ),
        (
            lambda d: seat(d, 0, 0).update(flags=["wobbly"]),
            "body.sections.0.rows.0.seats.0.flags.0",
        ),
        (
            lambda d: seat(d, 0, 0).update(x=-1),
            "body.sections.0.rows.0.seats.0.x",
        ),
        (
            lambda d: seat(d, 0, 0).update(y=float("nan")),
            "body.sections.0.rows.0.seats.0.y",
        ),
        (
            lambda d: seat(d, 0, 0).update(colour="red"),
            "body.sections.0.rows.0.seats.0.colour",
        ),
        (
            lambda d: d["zones"][0].update(color="red"),
            "body.zones.0.color",
        ),
        (
            lambda d: d["sections"][0]["rows"][0].update(seats=[]),
            "body.sections.0.rows.0.seats",
        ),
        (lambda d: d.update(zones=[]), "body.zones"),
    ],
)
def test_each_broken_rule_is_a_400_naming_its_json_path(change, path):
    assert path in refused(with_change(change))


def test_more_than_100000_seats_are_refused_by_count_before_validation():
    row = {"id": "A", "zone": "z", "seats": [{"label": str(n)} for n in range(1000)]}
    data = {
        "name": "Too big",
        "zones": [{"id": "z", "name": "Z"}],
        # 101 sections of 1,000 seats; the seats lack coordinates, which is never
        # reported: the count is checked first.
        "sections": [{"id": f"s{s}", "rows": [row]} for s in range(101)],
    }
    with pytest.raises(ValidationFailed) as excinfo:
        parse_seat_map(data)
    assert fields(excinfo) == ["body.sections"]
    assert "101,000" in excinfo.value.errors[0].reason


def test_a_map_with_a_problem_on_every_seat_reports_a_bounded_list():
    data = small_map()
    row = data["sections"][0]["rows"][0]
    row["seats"] = [{"label": "1", "x": n, "y": 1} for n in range(500)]  # all label "1"
    assert len(refused(data)) == MAX_REPORTED


def test_validation_does_not_change_the_input():
    data = small_map()
    before = copy.deepcopy(data)
    parse_seat_map(data)
    assert data == before


# --- rectangular maps ---------------------------------------------------------------


def spec(**overrides: Any) -> RectangularMapSpec:
    body = {
        "name": "Generated",
        "sections": 2,
        "rows": 5,
        "seats_per_row": 8,
        "zones": [
            {"zone": {"id": "front", "name": "Front"}, "from_row": 1, "to_row": 2},
            {"zone": {"id": "back", "name": "Back"}, "from_row": 3, "to_row": 5},
        ],
    }
    return RectangularMapSpec.model_validate({**body, **overrides})


def test_a_rectangular_map_has_sections_times_rows_times_seats_with_zones_by_row():
    valid = parse_seat_map(rectangular_document(spec()))
    assert valid.stats.seats == 2 * 5 * 8
    assert valid.stats.zones == {"front": 2 * 2 * 8, "back": 2 * 3 * 8}
    seats = list(resolved_seats(valid.document))
    first = seats[0]
    assert (first.id, first.section, first.row, first.label, first.rank) == (
        "S1-A-1",
        "S1",
        "A",
        "1",
        1,
    )
    assert {seat.rank for seat in seats if seat.row == "E"} == {5}
    # Sections sit side by side: the second starts right of the first's last seat.
    s1 = max(seat.x for seat in seats if seat.section == "S1")
    s2 = min(seat.x for seat in seats if seat.section == "S2")
    assert s2 > s1


def test_spacing_parameters_place_seats():
    seats = list(resolved_seats(parse_seat_map(rectangular_document(spec(
        seat_spacing=20, row_spacing=30, sections=1
    ))).document))  # fmt: skip
    a1, a2 = seats[0], seats[1]
    b1 = next(seat for seat in seats if seat.row == "B")
    assert a2.x - a1.x == 20 and b1.y - a1.y == 30


def test_row_labels_go_past_z():
    assert [row_label(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"sections": 100, "rows": 100, "seats_per_row": 11}, "body.seats_per_row"),
        (
            {"zones": [{"zone": {"id": "a", "name": "A"}, "from_row": 1, "to_row": 3}]},
            "body.zones",
        ),
        (
            {
                "zones": [
                    {"zone": {"id": "a", "name": "A"}, "from_row": 1, "to_row": 3},
                    {"zone": {"id": "b", "name": "B"}, "from_row": 3, "to_row": 5},
                ]
            },
            "body.zones.1.from_row",
        ),
        (
            {"zones": [{"zone": {"id": "a", "name": "A"}, "from_row": 1, "to_row": 9}]},
            "body.zones.0.to_row",
        ),
    ],
)
def test_rectangular_parameters_that_cannot_make_a_map_name_their_field(overrides, path):
    with pytest.raises(ValidationFailed) as excinfo:
        spec(**overrides)
    assert path in fields(excinfo)


def test_the_largest_rectangular_map_is_exactly_the_seat_limit():
    everything = [{"zone": {"id": "all", "name": "All"}, "from_row": 1, "to_row": 100}]
    largest = spec(sections=100, rows=100, seats_per_row=10, zones=everything)
    valid = parse_seat_map(rectangular_document(largest))
    assert valid.stats.seats == MAX_SEATS
