"""How analytics renders figures: ratios as rounded floats, money as decimal strings."""

from __future__ import annotations

from decimal import Decimal


def ratio(part: int | Decimal, whole: int | Decimal | None) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is zero or unknown."""
    if not whole:
        return None
    return round(float(part) / float(whole), 4)


def money(amount: Decimal | None) -> str:
    """A money amount as a decimal string with two places (never a float)."""
    return str((amount or Decimal(0)).quantize(Decimal("0.01")))
