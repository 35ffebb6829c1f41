"""A seat map as SVG: a pure function of the map and each seat's status.

Seats are circles (squares for accessible seats) filled with their zone's colour, each
with a ``<title>`` naming section, row, seat, zone and flags (what a screen reader or a
hover shows). Blocked seats are pale grey and crossed; companion seats have a dashed
ring; restricted-view seats are drawn faded. ``status`` (seat id -> ``available``,
``held``, ``sold`` or ``kept_back``: kept back for a channel) recolours seats that are not
available. Live status belongs to
bookings: the public event drawing passes what bookings reports now
(``GET /internal/events/{id}/seats``, seating_routes.py); the admin drawing of a map
version passes nothing, and every seat is drawn as the map describes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from evently.core.seat_maps import SeatMapDocument

SeatStatus = Literal["available", "held", "sold", "kept_back"]
# kept_back: kept back for a channel, not for public sale (docs/seating.md).
STATUS_COLORS = {"held": "#f5c542", "sold": "#4d4d4d", "kept_back": "#a7b7c9"}
BLOCKED_COLOR = "#d9d9d9"
LEGEND_LINE = 18.0


def render_seat_map_svg(
    document: SeatMapDocument, status: Mapping[str, SeatStatus] | None = None
) -> str:
    """The SVG drawing of a normalised ``document`` (``parse_seat_map``'s output)."""
    status = status or {}
    zones = {zone.id: (f"z{i}", zone) for i, zone in enumerate(document.zones)}
    width = document.width or 0.0
    height = document.height or 0.0
    legend_top = height
    total_height = height + LEGEND_LINE * (len(zones) + len(STATUS_COLORS) + 1)
    radius = _seat_radius(document)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(total_height)}" '
        f'width="{_n(width)}" height="{_n(total_height)}" role="img">',
        f"<title>{escape(document.name)}</title>",
        "<style>",
        "text{font:10px sans-serif}.seat{stroke:#fff;stroke-width:.5}",
        f".blocked{{fill:{BLOCKED_COLOR}}}.cross{{stroke:#888;stroke-width:.8}}",
        ".companion{stroke:#000;stroke-dasharray:1.5 1}.restricted{opacity:.55}",
        *(f".{css}{{fill:{zone.color}}}" for css, zone in zones.values()),
        *(f".{name}{{fill:{color}}}" for name, color in STATUS_COLORS.items()),
        "</style>",
    ]
    stage = document.stage
    if stage is not None:
        out.append(
            f'<g class="stage"><rect x="{_n(stage.x)}" y="{_n(stage.y)}" '
            f'width="{_n(stage.width)}" height="{_n(stage.height)}" fill="#eee" stroke="#999"/>'
            f'<text x="{_n(stage.x + stage.width / 2)}" y="{_n(stage.y + stage.height / 2)}" '
            f'text-anchor="middle" dominant-baseline="middle">{escape(stage.label)}</text></g>'
        )
    for section in document.sections:
        section_label = section.label or section.id
        out.append(f'<g class="section" id={quoteattr("section-" + section.id)}>')
        first = section.rows[0].seats[0]
        out.append(
            f'<text x="{_n(first.x - radius)}" y="{_n(max(first.y - 2.5 * radius, 8))}">'
            f"{escape(section_label)}</text>"
        )
        for row in section.rows:
            row_label = row.label or row.id
            row_zone = row.zone or section.zone or ""
            for seat in row.seats:
                zone_id = seat.zone or row_zone
                css, zone = zones[zone_id]
                flags = seat.flags
                seat_status = status.get(seat.id or "", "available")
                classes = ["seat"]
                if "blocked" in flags:
                    classes.append("blocked")
                elif seat_status != "available":
                    classes.append(seat_status)
                else:
                    classes.append(css)
                if "companion" in flags:
                    classes.append("companion")
                if "restricted_view" in flags:
                    classes.append("restricted")
                details = [f"{section_label}, row {row_label}, seat {seat.label}", zone.name]
                details.extend(flag.replace("_", " ") for flag in flags)
                if seat_status != "available" and "blocked" not in flags:
                    details.append(seat_status.replace("_", " "))
                title = f"<title>{escape(' · '.join(details))}</title>"
                attrs = f'class="{" ".join(classes)}" data-seat={quoteattr(seat.id or "")}'
                x, y = seat.x, seat.y
                if "accessible" in flags:
                    shape = (
                        f'<rect x="{_n(x - radius)}" y="{_n(y - radius)}" width="{_n(2 * radius)}" '
                        f'height="{_n(2 * radius)}" {attrs}>{title}</rect>'
                    )
                else:
                    shape = (
                        f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(radius)}" {attrs}>'
                        f"{title}</circle>"
                    )
                out.append(shape)
                if "blocked" in flags:
                    d = radius * 0.7
                    out.append(
                        f'<path class="cross" d="M{_n(x - d)} {_n(y - d)}L{_n(x + d)} {_n(y + d)}'
                        f'M{_n(x - d)} {_n(y + d)}L{_n(x + d)} {_n(y - d)}"/>'
                    )
        out.append("</g>")
    out.extend(_legend(zones, legend_top))
    out.append("</svg>")
    return "\n".join(out)


def _legend(zones: Mapping[str, tuple[str, object]], top: float) -> list[str]:
    entries = [(css, getattr(zone, "name", "")) for css, zone in zones.values()]
    entries += [(name, name.replace("_", " ")) for name in STATUS_COLORS]
    entries.append(("blocked", "blocked"))
    out = ['<g class="legend">']
    for i, (css, label) in enumerate(entries):
        y = top + LEGEND_LINE * i + 4
        out.append(
            f'<rect x="20" y="{_n(y)}" width="10" height="10" class="{css}"/>'
            f'<text x="36" y="{_n(y + 9)}">{escape(label)}</text>'
        )
    out.append("</g>")
    return out


def _seat_radius(document: SeatMapDocument) -> float:
    """Four tenths of the closest spacing of neighbours in a row (clamped to 1..20)."""
    gaps = [
        abs(b.x - a.x) + abs(b.y - a.y)
        for section in document.sections
        for row in section.rows[:50]
        for a, b in zip(row.seats, row.seats[1:50], strict=False)
    ]
    gap = min((g for g in gaps if g > 0), default=10.0)
    return min(max(gap * 0.4, 1.0), 20.0)


def _n(value: float) -> str:
    """A coordinate, short: ``12`` rather than ``12.0``, at most two decimals."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
