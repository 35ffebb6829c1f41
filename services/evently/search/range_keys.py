"""Index keys for date and price ranges in the text index (migration 0005).

GIN answers equality well, ranges badly: a range over ``btree_gin`` is one
partial-match scan per bound (``>= a`` and ``<= b`` separately, each over half the
table). So each document carries its value at a few granularities as keys: its start's
day, week, month and year, and its price's floor in units, tens, hundreds... A range
becomes at most MAX_KEYS keys covering it: exactly where that many can (1-10 June 2031:
the Sunday, a week, two days; 97-139 EUR: 97, 98, 99 and the tens 10-13), else the keys
of the finest single granularity that needs no more (25 May to 8 July: 8 weeks), and
the text index intersects the posting lists of the words with their union. A cover is
never narrower than the range and at most MAX_COVER_RATIO times as wide; the exact
bounds are still checked on each row.

Few keys matter: GIN intersects a word with a union of keys at a cost per key and per
candidate, and with day keys at both ends of a 3-month range a common word cost more
than the rows it saved (docs/benchmarks.md, Search).

The SQL side is ``search.start_keys`` and ``search.price_keys``
(``migrations/0005_text_range_keys.sql``); the encodings here must match them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

MAX_KEYS = 8
# A cover more than this many times as wide as its range is not passed (a 38-133 EUR
# range would be the hundreds 0-199: most of the table, for the cost of the union).
MAX_COVER_RATIO = 2
# GIN intersects the posting lists of the conditions it is given (the words, the city,
# the type, a union of keys) in about as many steps as the rarest of them has rows, each
# step costing about one per posting list involved (every key of a union is one). Keys
# are passed only when that stays under this many: 3 months of keys for "evening"
# (240,000 rows) cost more than walking the date order (docs/benchmarks.md, Search).
MAX_INTERSECTION_STEPS = 300_000
_EPOCH = date(1970, 1, 1)
PRICE_LEVELS = 4  # units, tens, hundreds, thousands (search.price_keys)


def _day(day: date) -> int:
    return (day - _EPOCH).days


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# (days per segment, the key of the segment holding a day), finest first; the key
# encodes the granularity in its last three bits, as search.start_keys does.
_START_LEVELS: list[tuple[float, Callable[[date], int]]] = [
    (1, lambda d: _day(d) * 8),
    (7, lambda d: (_day(d) + 3) // 7 * 8 + 1),  # weeks from Monday (1970-01-01: Thursday)
    (30.44, lambda d: (d.year * 12 + d.month - 1) * 8 + 2),
    (365.25, lambda d: d.year * 8 + 3),
]


def _exact_start_keys(first: date, last: date) -> list[int] | None:
    """The days ``first`` to ``last`` exactly, as whole years, months and weeks where they
    fit and days elsewhere (10 days from a Sunday: the Sunday, a week, two days); None
    past MAX_KEYS keys."""
    keys: list[int] = []
    day = first
    while day <= last:
        if len(keys) == MAX_KEYS:
            return None
        year_end, month_end = date(day.year, 12, 31), _next_month(day) - timedelta(days=1)
        if (day.month, day.day) == (1, 1) and year_end <= last:
            keys.append(_START_LEVELS[3][1](day))
            day = year_end + timedelta(days=1)
        elif day.day == 1 and month_end <= last:
            keys.append(_START_LEVELS[2][1](day))
            day = month_end + timedelta(days=1)
        elif day.weekday() == 0 and day + timedelta(days=6) <= last:
            keys.append(_START_LEVELS[1][1](day))
            day += timedelta(days=7)
        else:
            keys.append(_START_LEVELS[0][1](day))
            day += timedelta(days=1)
    return keys


def start_keys(starts_from: datetime | None, starts_before: datetime | None) -> list[int] | None:
    """Keys of ``search.start_keys`` covering ``[starts_from, starts_before)`` (whole UTC
    days): exactly if MAX_KEYS keys can, else at the finest single granularity needing
    at most MAX_KEYS; None when the range is open or no cover is tight enough."""
    if starts_from is None or starts_before is None or starts_before <= starts_from:
        return None
    first = starts_from.astimezone(UTC).date()
    last = (starts_before.astimezone(UTC) - timedelta(microseconds=1)).date()
    if (exact := _exact_start_keys(first, last)) is not None:
        return exact
    days = (last - first).days + 1
    for segment_days, key_of in _START_LEVELS:
        keys = {key_of(first), key_of(last)}
        day = first
        while day <= last and len(keys) <= MAX_KEYS:
            keys.add(key_of(day))
            day += timedelta(days=1)
        if len(keys) <= MAX_KEYS:
            return sorted(keys) if len(keys) * segment_days <= MAX_COVER_RATIO * days else None
    return None


def _exact_price_keys(first: int, last: int) -> list[int] | None:
    """Whole units ``first`` to ``last`` exactly, as the largest aligned powers of ten
    that fit (97-139: 97, 98, 99, then the tens 10-13); None past MAX_KEYS keys."""
    keys: list[int] = []
    unit = first
    while unit <= last:
        if len(keys) == MAX_KEYS:
            return None
        level = 0
        while (
            level + 1 < PRICE_LEVELS
            and unit % 10 ** (level + 1) == 0
            and unit + 10 ** (level + 1) - 1 <= last
        ):
            level += 1
        keys.append(unit // 10**level * 8 + level)
        unit += 10**level
    return keys


def price_keys(min_price: Decimal | None, max_price: Decimal | None) -> list[int] | None:
    """Keys of ``search.price_keys`` covering ``[min_price, max_price]`` (whole units):
    exactly if MAX_KEYS keys can, else at the finest single granularity (units, tens,
    ...) needing at most MAX_KEYS; None when the range is open (a document's price may
    be anything, negative included) or no cover is tight enough."""
    if min_price is None or max_price is None:
        return None
    first_unit, last_unit = math.floor(min_price), math.floor(max_price)
    if (exact := _exact_price_keys(first_unit, last_unit)) is not None:
        return exact
    for level in range(PRICE_LEVELS):
        first, last = first_unit // 10**level, last_unit // 10**level
        if last - first < MAX_KEYS:
            if (last - first + 1) * 10**level > MAX_COVER_RATIO * (last_unit - first_unit + 1):
                return None
            return [value * 8 + level for value in range(first, last + 1)]
    return None


Keys = list[int] | None


def choose(
    rows: list[float], dates: Keys, date_rows: float, prices: Keys, price_rows: float
) -> tuple[Keys, Keys]:
    """Which range keys to pass: both, else the cheaper one alone, else none, as long as
    the intersection stays under MAX_INTERSECTION_STEPS. ``rows``: the estimated rows
    of the text and of each equality filter (city, type), one posting list each;
    ``date_rows``, ``price_rows``: those of each union of keys."""
    options: list[tuple[Keys, Keys]] = [(dates, prices), (dates, None), (None, prices)]
    costs = []
    for option_dates, option_prices in options:
        streams = list(rows)
        lists = len(rows)
        if option_dates is not None:
            streams.append(date_rows)
            lists += len(option_dates)
        if option_prices is not None:
            streams.append(price_rows)
            lists += len(option_prices)
        if option_dates is not None or option_prices is not None:
            costs.append((min(streams) * lists, option_dates, option_prices))
    for steps, option_dates, option_prices in costs[:1] + sorted(costs[1:], key=lambda c: c[0]):
        if steps <= MAX_INTERSECTION_STEPS:
            return option_dates, option_prices
    return None, None
