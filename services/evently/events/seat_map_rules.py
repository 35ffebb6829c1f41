"""Validating an uploaded seat map: its shape, then the rules a shape cannot state.

``parse_seat_map`` turns a decoded JSON body into a ``ValidSeatMap``: the normalised
document (every default filled in, so what is stored needs no inference) and its counts.
Anything wrong is one ``ValidationFailed`` (400 ``validation_failed``) whose ``errors``
name the JSON path of each problem (``body.sections.0.rows.3.seats.12.zone``), the
first ``MAX_REPORTED`` of them. Pure functions: no database, no clock.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pydantic

from evently.core.errors import FieldError, ValidationFailed
from evently.core.seat_maps import (
    MAX_SEATS,
    SeatMapDocument,
    SeatMapStats,
)

MAX_REPORTED = 50
# A seat without an id gets ``<section>-<row>-<label>``: the label must fit an id.
_ID_SAFE_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,38}")
# Zones without a colour get one of these, in order (colour-blind friendly, Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
MARGIN = 20.0


@dataclass(frozen=True)
class ValidSeatMap:
    """A document that passed every rule, normalised, with its counts."""

    document: SeatMapDocument
    stats: SeatMapStats


def parse_seat_map(data: Any, *, where: str = "body") -> ValidSeatMap:
    """Validate ``data`` (decoded JSON) as a seat map; ``ValidationFailed`` names each
    failing path under ``where``."""
    _refuse_too_many_seats(data, where)
    try:
        document = SeatMapDocument.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _failed(
            [
                FieldError(_path(where, error["loc"]), _reason(error))
                for error in exc.errors(include_url=False)[:MAX_REPORTED]
            ]
        ) from exc
    problems = _rule_problems(document, where)
    if problems:
        raise _failed(problems)
    return ValidSeatMap(_normalised(document), _stats(document))


def _refuse_too_many_seats(data: Any, where: str) -> None:
    """Count seats before building a model for each: a body of a million seats is
    refused for its count, cheaply, not after a second of validation."""
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        return
    total = 0
    for section in data["sections"]:
        rows = section.get("rows") if isinstance(section, dict) else None
        for row in rows if isinstance(rows, list) else ():
            seats = row.get("seats") if isinstance(row, dict) else None
            total += len(seats) if isinstance(seats, list) else 0
    if total > MAX_SEATS:
        raise _failed(
            [FieldError(f"{where}.sections", f"at most {MAX_SEATS:,} seats; got {total:,}")]
        )


def _rule_problems(document: SeatMapDocument, where: str) -> list[FieldError]:
    """Unique ids and labels, zones that exist, every seat in a zone."""
    problems: list[FieldError] = []

    def report(path: str, reason: str) -> None:
        if len(problems) < MAX_REPORTED:
            problems.append(FieldError(f"{where}.{path}", reason))

    zones: set[str] = set()
    for i, zone in enumerate(document.zones):
        if zone.id in zones:
            report(f"zones.{i}.id", f"zone id {zone.id!r} is already used")
        zones.add(zone.id)
    seat_ids: dict[str, tuple[int, int, int]] = {}
    section_ids: set[str] = set()
    for s, section in enumerate(document.sections):
        at_section = f"sections.{s}"
        if section.id in section_ids:
            report(f"{at_section}.id", f"section id {section.id!r} is already used")
        section_ids.add(section.id)
        if section.zone is not None and section.zone not in zones:
            report(f"{at_section}.zone", f"no zone {section.zone!r} in zones")
        row_ids: set[str] = set()
        for r, row in enumerate(section.rows):
            at_row = f"{at_section}.rows.{r}"
            if row.id in row_ids:
                report(f"{at_row}.id", f"row id {row.id!r} is already used in this section")
            row_ids.add(row.id)
            if row.zone is not None and row.zone not in zones:
                report(f"{at_row}.zone", f"no zone {row.zone!r} in zones")
            inherited = row.zone or section.zone
            labels: set[str] = set()
            # Paths are built only for problems: this loop runs once per seat.
            for n, seat in enumerate(row.seats):
                label = seat.label
                if label in labels:
                    report(f"{at_row}.seats.{n}.label", f"seat label {label!r} repeats in this row")
                labels.add(label)
                zone = seat.zone
                if zone is not None:
                    if zone not in zones:
                        report(f"{at_row}.seats.{n}.zone", f"no zone {zone!r} in zones")
                elif inherited is None:
                    report(
                        f"{at_row}.seats.{n}.zone",
                        "no zone: set one on the seat, its row or section",
                    )
                flags = seat.flags
                if len(flags) > 1 and len(set(flags)) != len(flags):
                    report(f"{at_row}.seats.{n}.flags", "a flag is listed twice")
                seat_id = seat.id
                if seat_id is None:
                    if not _ID_SAFE_LABEL.fullmatch(label):
                        report(f"{at_row}.seats.{n}.id", "required: the label cannot make an id")
                        continue
                    seat_id = f"{section.id}-{row.id}-{label}"
                first = seat_ids.get(seat_id)
                if first is None:
                    seat_ids[seat_id] = (s, r, n)
                else:
                    report(
                        f"{at_row}.seats.{n}.id",
                        f"seat id {seat_id!r} is already used at "
                        f"sections.{first[0]}.rows.{first[1]}.seats.{first[2]}",
                    )
    return problems


def _normalised(document: SeatMapDocument) -> SeatMapDocument:
    """The document with every default made explicit: seat ids, row labels and ranks,
    section labels, zone colours and the drawing's size. Mutates and returns it."""
    for i, zone in enumerate(document.zones):
        if zone.color is None:
            zone.color = PALETTE[i % len(PALETTE)]
    max_x = max_y = 0.0
    for section in document.sections:
        section.label = section.label or section.id
        for position, row in enumerate(section.rows, start=1):
            row.label = row.label or row.id
            row.rank = row.rank if row.rank is not None else position
            for seat in row.seats:
                if seat.id is None:
                    seat.id = f"{section.id}-{row.id}-{seat.label}"
                max_x = max(max_x, seat.x)
                max_y = max(max_y, seat.y)
    stage = document.stage
    if stage is not None:
        max_x = max(max_x, stage.x + stage.width)
        max_y = max(max_y, stage.y + stage.height)
    document.width = document.width or max_x + MARGIN
    document.height = document.height or max_y + MARGIN
    return document


def _stats(document: SeatMapDocument) -> SeatMapStats:
    seats = sellable = accessible = 0
    per_zone: Counter[str] = Counter()
    for section in document.sections:
        for row in section.rows:
            row_zone = row.zone or section.zone or ""
            for seat in row.seats:
                seats += 1
                if "accessible" in seat.flags:
                    accessible += 1
                if "blocked" not in seat.flags:
                    sellable += 1
                    per_zone[seat.zone or row_zone] += 1
    zones = {zone.id: per_zone.get(zone.id, 0) for zone in document.zones}
    return SeatMapStats(
        seats=seats, sellable_seats=sellable, accessible_seats=accessible, zones=zones
    )


def _path(where: str, loc: tuple[Any, ...]) -> str:
    return ".".join([where, *(str(part) for part in loc)])


def _reason(error: Any) -> str:
    return "unknown field" if error["type"] == "extra_forbidden" else error["msg"]


def _failed(errors: list[FieldError]) -> ValidationFailed:
    shown = ", ".join(e.field.removeprefix("body.") for e in errors[:5])
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    return ValidationFailed(f"Invalid seat map: {shown}{more}", errors=errors)
