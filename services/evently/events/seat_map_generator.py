"""A simple rectangular seat map from a few numbers: sections side by side facing a
stage, each with the same rows of the same number of seats, a zone per row range.

``rectangular_document`` is pure; the result goes through ``parse_seat_map`` like any
upload, so a generated map obeys exactly the rules an uploaded one does.
"""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import Field

from evently.core.errors import FieldError, ValidationFailed
from evently.core.seat_maps import MAX_SEATS, MAX_ZONES, Label, Zone

STAGE_HEIGHT = 40.0
MARGIN = 20.0


class ZoneRows(pydantic.BaseModel):
    """Rows ``from_row``..``to_row`` (1 = nearest the stage) of every section are in ``zone``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    zone: Zone
    from_row: int = Field(ge=1, le=1000)
    to_row: int = Field(ge=1, le=1000)


class RectangularMapSpec(pydantic.BaseModel):
    """Parameters of a rectangular map (``POST .../seat-maps/rectangular``)."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Label
    sections: int = Field(ge=1, le=100)
    rows: int = Field(ge=1, le=1000, description="Rows per section")
    seats_per_row: int = Field(ge=1, le=1000)
    zones: list[ZoneRows] = Field(min_length=1, max_length=MAX_ZONES)
    seat_spacing: float = Field(default=10.0, ge=1, le=100, allow_inf_nan=False)
    row_spacing: float = Field(default=12.0, ge=1, le=100, allow_inf_nan=False)
    section_gap: float = Field(default=30.0, ge=0, le=1000, allow_inf_nan=False)

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> RectangularMapSpec:
        problems = _problems(self)
        if problems:
            raise ValidationFailed(
                "Invalid rectangular map: " + ", ".join(p.field for p in problems),
                errors=problems,
            )
        return self


def _problems(spec: RectangularMapSpec) -> list[FieldError]:
    problems = []
    total = spec.sections * spec.rows * spec.seats_per_row
    if total > MAX_SEATS:
        problems.append(
            FieldError("body.seats_per_row", f"at most {MAX_SEATS:,} seats; this is {total:,}")
        )
    covered: dict[int, int] = {}
    for i, zone_rows in enumerate(spec.zones):
        if zone_rows.to_row < zone_rows.from_row:
            problems.append(FieldError(f"body.zones.{i}.to_row", "must not be below from_row"))
        if zone_rows.to_row > spec.rows:
            problems.append(FieldError(f"body.zones.{i}.to_row", f"there are {spec.rows} rows"))
        for row in range(zone_rows.from_row, min(zone_rows.to_row, spec.rows) + 1):
            if row in covered:
                problems.append(
                    FieldError(
                        f"body.zones.{i}.from_row", f"row {row} is already in zones.{covered[row]}"
                    )
                )
                break
            covered[row] = i
    missing = [row for row in range(1, spec.rows + 1) if row not in covered]
    if missing and not problems:
        problems.append(FieldError("body.zones", f"rows without a zone: {_ranges(missing)}"))
    return problems


def row_label(position: int) -> str:
    """Spreadsheet-style row letters: 1 -> A, 26 -> Z, 27 -> AA."""
    label = ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def rectangular_document(spec: RectangularMapSpec) -> dict[str, Any]:
    """The seat map document ``spec`` describes (to be validated like an upload)."""
    zone_of_row = {
        row: zone_rows.zone.id
        for zone_rows in spec.zones
        for row in range(zone_rows.from_row, zone_rows.to_row + 1)
    }
    section_width = spec.seats_per_row * spec.seat_spacing
    first_row_y = MARGIN + STAGE_HEIGHT + spec.row_spacing
    sections = []
    for s in range(spec.sections):
        left = MARGIN + s * (section_width + spec.section_gap)
        rows = []
        for r in range(1, spec.rows + 1):
            y = first_row_y + (r - 1) * spec.row_spacing
            letter = row_label(r)
            seats = [
                {"label": str(n), "x": left + (n - 0.5) * spec.seat_spacing, "y": y}
                for n in range(1, spec.seats_per_row + 1)
            ]
            rows.append({"id": letter, "rank": r, "zone": zone_of_row[r], "seats": seats})
        sections.append({"id": f"S{s + 1}", "label": f"Section {s + 1}", "rows": rows})
    width = 2 * MARGIN + spec.sections * section_width + (spec.sections - 1) * spec.section_gap
    return {
        "name": spec.name,
        "width": width,
        "height": first_row_y + spec.rows * spec.row_spacing + MARGIN,
        "stage": {"x": MARGIN, "y": MARGIN, "width": width - 2 * MARGIN, "height": STAGE_HEIGHT},
        "zones": [zone_rows.zone.model_dump(exclude_none=True) for zone_rows in spec.zones],
        "sections": sections,
    }


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
