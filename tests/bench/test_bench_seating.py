"""hack/bench_seating.py's own pieces, run on their own: the buyers' view of the map,
the venue it builds and the figures it derives. (``make bench-seating`` runs it all.)"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

from evently.bookings.best_available import SeatIndex
from evently.core.seat_maps import SeatMapDocument, resolved_seats
from evently.events.seat_map_generator import RectangularMapSpec, rectangular_document

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / f"hack/{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


_load("bench_bookings")  # bench_seating imports it by name, as from hack/
seating = _load("bench_seating")


def rows(*lengths: int) -> list[list[str]]:
    return [[f"R{r}-{i}" for i in range(1, n + 1)] for r, n in enumerate(lengths)]


def test_the_board_shows_a_hold_once_its_view_has_caught_up() -> None:
    late = seating.SeatBoard(rows(4), lag=3600.0)
    late.heard(["R0-1"])
    late.refresh()
    assert "R0-1" not in late.taken and late.free == [4]
    now = seating.SeatBoard(rows(4), lag=0.0)
    now.heard(["R0-1"])
    now.refresh()
    assert now.taken == {"R0-1"} and now.free == [3]


def test_the_board_picks_adjacent_seats_it_believes_free() -> None:
    board = seating.SeatBoard(rows(6, 6), lag=0.0)
    board.take(["R0-3", "R1-2", "R1-5"])
    rng = random.Random(18)
    for _ in range(50):
        seats = board.choose(rng, 3)
        assert seats in (["R0-4", "R0-5", "R0-6"],)  # the only block of three
    assert board.choose(rng, 4) is None


def test_the_venue_is_about_the_seats_asked_with_a_front_zone() -> None:
    shape = seating.map_shape(50_000, 10, 100)
    assert shape["sections"] * shape["rows"] * shape["seats_per_row"] == 50_000
    assert [z["zone"]["id"] for z in shape["zones"]] == ["front", "rear"]
    assert shape["zones"][0]["to_row"] + 1 == shape["zones"][1]["from_row"]
    assert shape["zones"][1]["to_row"] == shape["rows"]


def test_board_rows_come_best_rank_first_in_seat_order() -> None:
    spec = RectangularMapSpec.model_validate(seating.map_shape(60, 2, 10))
    seats = list(resolved_seats(SeatMapDocument.model_validate(rectangular_document(spec))))
    ordered = seating.board_rows(seats)
    assert len(ordered) == 6 and all(len(row) == 10 for row in ordered)
    assert ordered[0][:2] == ["S1-A-1", "S1-A-2"] and ordered[-1][-1].endswith("-C-10")
    index = SeatIndex.build(seats)
    assert all(index.row_key(row[0]) == index.row_key(row[-1]) for row in ordered)


def test_the_overlay_hides_a_batchs_later_seats() -> None:
    overlay = seating.Overlay({"a", "b", "c"}, {"c"})
    assert "a" in overlay and "c" not in overlay and "d" not in overlay
