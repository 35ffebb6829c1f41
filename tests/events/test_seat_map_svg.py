"""The SVG drawing: a pure function of a seat map and each seat's status."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evently.events.seat_map_rules import parse_seat_map
from evently.events.seat_map_svg import STATUS_COLORS, render_seat_map_svg
from tests.events.test_seat_map_rules import small_map

NS = {"svg": "http://www.w3.org/2000/svg"}


def draw(data=None, status=None) -> ET.Element:
    document = parse_seat_map(data or small_map()).document
    return ET.fromstring(render_seat_map_svg(document, status))


def seats(root: ET.Element) -> dict[str, ET.Element]:
    return {
        element.get("data-seat"): element
        for element in root.iter()
        if element.get("data-seat") is not None
    }


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def test_every_seat_is_drawn_once_with_a_title_naming_section_row_and_seat():
    drawn = seats(draw())
    assert set(drawn) == {
        "stalls-A-1", "stalls-A-2", "stalls-A-3", "stalls-B-1", "stalls-B-2", "vip-1",
        "box-1-A",
    }  # fmt: skip
    title = drawn["box-1-A"].find("svg:title", NS)
    assert title is not None and title.text == "Royal box, row 1, seat A · Premium"


def test_seats_are_filled_with_their_zones_colour():
    root = draw()
    style = root.find("svg:style", NS).text
    drawn = seats(root)
    premium = next(c for c in classes(drawn["stalls-A-3"]) if c.startswith("z"))
    standard = next(c for c in classes(drawn["stalls-B-2"]) if c.startswith("z"))
    assert premium != standard
    assert f".{premium}{{fill:#aa0000}}" in style
    assert classes(drawn["vip-1"]) >= {premium}  # its own zone beats its section's


def test_accessible_seats_are_squares_and_blocked_seats_grey_and_crossed():
    root = draw()
    drawn = seats(root)
    assert drawn["stalls-A-1"].tag == "{http://www.w3.org/2000/svg}rect"
    assert drawn["stalls-A-3"].tag == "{http://www.w3.org/2000/svg}circle"
    assert "blocked" in classes(drawn["stalls-B-1"])
    assert "accessible" in drawn["stalls-A-1"].find("svg:title", NS).text
    crosses = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if "cross" in classes(p)]
    assert len(crosses) == 1
    assert "companion" in classes(drawn["stalls-A-2"])
    assert "restricted" in classes(drawn["stalls-B-2"])


def test_status_recolours_held_and_sold_seats_but_never_a_blocked_one():
    status = {"stalls-A-3": "sold", "vip-1": "held", "stalls-B-1": "sold", "box-1-A": "available"}
    drawn = seats(draw(status=status))
    assert "sold" in classes(drawn["stalls-A-3"])
    assert "held" in classes(drawn["vip-1"])
    assert "sold" not in classes(drawn["stalls-B-1"]) and "blocked" in classes(drawn["stalls-B-1"])
    assert not classes(drawn["box-1-A"]) & set(STATUS_COLORS)
    assert drawn["stalls-A-3"].find("svg:title", NS).text.endswith("· sold")


def test_without_status_no_seat_is_drawn_as_taken():
    drawn = seats(draw())
    assert not any(classes(element) & set(STATUS_COLORS) for element in drawn.values())


def test_labels_are_escaped_so_the_drawing_stays_well_formed():
    data = small_map()
    data["name"] = "<script>alert(1)</script> & co"
    data["sections"][1]["label"] = 'Box "A" <b>'
    root = draw(data)  # parses: nothing leaked into markup
    assert root.find("svg:title", NS).text == "<script>alert(1)</script> & co"
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


def test_the_drawing_is_a_function_of_its_arguments():
    document = parse_seat_map(small_map()).document
    assert render_seat_map_svg(document, {"vip-1": "held"}) == render_seat_map_svg(
        document, {"vip-1": "held"}
    )
