"""An Event resource's spec: parsed into plain values and checked for sense.

The CRD's schema already enforces types, required fields, formats and bounds. What it
cannot express (with no CEL on Kubernetes 1.20) is checked here: ``check_spec`` returns
every problem with a stable reason and a message naming the fields, and the operator
then marks the resource Invalid and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pydantic

from evently.events.models import EventInput, EventVenueInput

DEFAULT_HOLD_TTL_S = 600
DEFAULT_OFFER_TTL_S = 900
DEFAULT_SESSION_TTL_S = 600
# spec.sale.waitingRoom.whenSoldOut -> the events service's when_sold_out.
WHEN_SOLD_OUT = {"offerWaitlist": "offer_waitlist", "close": "close"}
# spec.sale.waitingRoom.whenUnavailable -> the events service's when_unavailable.
WHEN_UNAVAILABLE = {"failClosed": "fail_closed", "failOpen": "fail_open"}
# The events service's default, lowered for events with fewer seats than that.
DEFAULT_MAX_PER_USER = 10
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True)
class Problem:
    """Why a spec cannot be applied: ``reason`` is CamelCase and stable."""

    reason: str
    message: str


class SpecError(Exception):
    """The spec is malformed or makes no sense; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(frozen=True)
class Venue:
    name: str
    address: str
    city: str
    capacity: int


@dataclass(frozen=True)
class Scaling:
    """At least ``sale_replicas`` for ``deployment`` from ``opens - lead_time`` to
    ``closes + cooldown``. ``baseline_replicas`` is deprecated and ignored (the operator
    restores what it recorded); it is kept only to warn about it."""

    deployment: str
    baseline_replicas: int | None
    sale_replicas: int
    lead_time: dt.timedelta
    cooldown: dt.timedelta


@dataclass(frozen=True)
class WaitingRoom:
    """``spec.sale.waitingRoom``: the event's virtual waiting room (docs/waiting-room.md)."""

    enabled: bool
    prequeue_opens_at: dt.datetime | None
    admission_rate_per_minute: int
    max_active_shoppers: int
    session_ttl_s: int
    when_sold_out: str
    when_unavailable: str = "fail_closed"


@dataclass(frozen=True)
class Seating:
    """``spec.seating``: a seated event on a seat map stored through the events admin API
    (docs/seating.md); ``spec.capacity`` must equal the map version's sellable seats."""

    map_id: int
    map_version: int
    # spec.seating.zonePrices: (zone id, price) pairs, sorted; a zone not named costs
    # spec.price.amount.
    zone_prices: tuple[tuple[str, Decimal], ...] = ()
    # spec.seating.channels: (channel, seat ids) pairs, sorted: seats kept back.
    channels: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class EventSpec:
    """The event as the resource describes it, with defaults filled in."""

    title: str
    description: str
    type: str
    venue: Venue
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    price: Decimal
    currency: str
    max_per_user: int | None
    sale_opens_at: dt.datetime | None
    sale_closes_at: dt.datetime | None
    hold_ttl_seconds: int
    waitlist_enabled: bool
    waitlist_offer_ttl_seconds: int
    scaling: Scaling | None
    published: bool
    waiting_room: WaitingRoom | None = None
    seating: Seating | None = None
    # spec.sale.requireVerifiedEmail and spec.sale.holdExpiryReminder (issue 17).
    require_verified_email: bool = False
    hold_expiry_reminder_s: int | None = None

    @property
    def sale_ends_at(self) -> dt.datetime:
        """When selling stops: ``closesAt``, or the event's end when there is none."""
        return self.sale_closes_at or self.ends_at


def parse_duration(text: str) -> dt.timedelta:
    """``"1h30m"``, ``"15m"``, ``"90s"`` -> a timedelta; ValueError otherwise."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h30m or 90s")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 timestamp -> an aware UTC datetime (naive input is taken as UTC)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class _Reader:
    """Reads fields by path, collecting a problem per malformed one."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def get(self, path: str) -> Any:
        node: Any = self.raw
        for part in path.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return node

    def _bad(self, path: str, why: str) -> None:
        self.problems.append(Problem("MalformedSpec", f"spec.{path} {why}"))

    def text(self, path: str, default: str | None = None) -> str:
        value = self.get(path)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or (default is None and not value.strip()):
            self._bad(path, "is required and must be a non-empty string")
            return ""
        return value

    def integer(self, path: str, default: int | None = None, minimum: int = 0) -> int:
        value = self.get(path)
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._bad(path, f"must be an integer >= {minimum}")
            return minimum
        return value

    def time(self, path: str, required: bool = True) -> dt.datetime | None:
        value = self.get(path)
        if value is None and not required:
            return None
        try:
            return parse_time(value)
        except (TypeError, ValueError, AttributeError):
            self._bad(path, "must be an RFC 3339 date-time such as 2027-06-12T18:00:00Z")
            return None

    def duration(self, path: str, default: dt.timedelta) -> dt.timedelta:
        value = self.get(path)
        if value is None:
            return default
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self._bad(path, f"is invalid: {exc}")
            return default

    def flag(self, path: str, default: bool) -> bool:
        value = self.get(path)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._bad(path, "must be true or false")
            return default
        return value


def _zone_prices(r: _Reader) -> tuple[tuple[str, Decimal], ...]:
    """``spec.seating.zonePrices`` (zone id -> decimal string), read without splitting
    zone ids on their dots; the events service checks the zones against the map."""
    raw = r.get("seating.zonePrices")
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        r._bad("seating.zonePrices", 'must map zone ids to prices such as "49.90"')
        return ()
    prices = []
    for zone, text in sorted(raw.items()):
        try:
            price = Decimal(text) if isinstance(text, str) else Decimal("NaN")
            if not price.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            r._bad(f"seating.zonePrices.{zone}", 'must be a decimal string such as "49.90"')
            continue
        prices.append((str(zone), price))
    return tuple(prices)


def _channels(r: _Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``spec.seating.channels`` (channel -> seat ids); the events service checks the
    seats against the map."""
    raw = r.get("seating.channels")
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        r._bad("seating.channels", "must map channel names to lists of seat ids")
        return ()
    channels = []
    for name, seats in sorted(raw.items()):
        if not isinstance(seats, list) or not all(isinstance(s, str) for s in seats):
            r._bad(f"seating.channels.{name}", "must be a list of seat ids")
            continue
        channels.append((str(name), tuple(seats)))
    return tuple(channels)


def parse_spec(raw: Mapping[str, Any]) -> EventSpec:
    """Read a resource's ``spec``; raises ``SpecError`` listing every malformed field."""
    r = _Reader(raw or {})
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    price_text = r.text("price.amount")
    try:
        price = Decimal(price_text)
        if not price.is_finite() or price < 0:
            raise InvalidOperation
    except InvalidOperation:
        r._bad("price.amount", 'must be a decimal string such as "49.90"')
        price = Decimal(0)
    scaling = None
    if r.get("scaling") is not None:
        scaling = Scaling(
            deployment=r.text("scaling.deployment"),
            baseline_replicas=(
                None
                if r.get("scaling.baselineReplicas") is None
                else r.integer("scaling.baselineReplicas")
            ),
            sale_replicas=r.integer("scaling.saleReplicas", minimum=1),
            lead_time=r.duration("scaling.leadTime", dt.timedelta(0)),
            cooldown=r.duration("scaling.cooldown", dt.timedelta(0)),
        )
    waiting_room = None
    if r.get("sale.waitingRoom") is not None:
        sold_out = r.get("sale.waitingRoom.whenSoldOut") or "offerWaitlist"
        if sold_out not in WHEN_SOLD_OUT:
            r._bad("sale.waitingRoom.whenSoldOut", f"must be one of {', '.join(WHEN_SOLD_OUT)}")
        unavailable = r.get("sale.waitingRoom.whenUnavailable") or "failClosed"
        if unavailable not in WHEN_UNAVAILABLE:
            r._bad(
                "sale.waitingRoom.whenUnavailable",
                f"must be one of {', '.join(WHEN_UNAVAILABLE)}",
            )
        waiting_room = WaitingRoom(
            enabled=r.flag("sale.waitingRoom.enabled", True),
            prequeue_opens_at=r.time("sale.waitingRoom.prequeueOpensAt", required=False),
            admission_rate_per_minute=r.integer(
                "sale.waitingRoom.admissionRatePerMinute", minimum=1
            ),
            max_active_shoppers=r.integer("sale.waitingRoom.maxActiveShoppers", minimum=1),
            session_ttl_s=int(
                r.duration(
                    "sale.waitingRoom.sessionTTL", dt.timedelta(seconds=DEFAULT_SESSION_TTL_S)
                ).total_seconds()
            ),
            when_sold_out=WHEN_SOLD_OUT.get(sold_out, "offer_waitlist"),
            when_unavailable=WHEN_UNAVAILABLE.get(unavailable, "fail_closed"),
        )
    seating = None
    if r.get("seating") is not None:
        seating = Seating(
            map_id=r.integer("seating.mapId", minimum=1),
            map_version=r.integer("seating.mapVersion", minimum=1),
            zone_prices=_zone_prices(r),
            channels=_channels(r),
        )
    reminder = None
    if r.get("sale.holdExpiryReminder") is not None:
        reminder = int(r.duration("sale.holdExpiryReminder", dt.timedelta(0)).total_seconds())
    max_per_user = r.get("maxPerUser")
    spec = EventSpec(
        title=r.text("title"),
        description=r.text("description", default=""),
        type=r.text("type"),
        venue=Venue(
            name=r.text("venue.name"),
            address=r.text("venue.address"),
            city=r.text("venue.city"),
            capacity=r.integer("venue.capacity", minimum=1),
        ),
        starts_at=r.time("startsAt") or epoch,
        ends_at=r.time("endsAt") or epoch,
        capacity=r.integer("capacity", minimum=1),
        price=price,
        currency=r.text("price.currency"),
        max_per_user=None if max_per_user is None else r.integer("maxPerUser", minimum=1),
        sale_opens_at=r.time("sale.opensAt", required=False),
        sale_closes_at=r.time("sale.closesAt", required=False),
        hold_ttl_seconds=int(
            r.duration("sale.holdTTL", dt.timedelta(seconds=DEFAULT_HOLD_TTL_S)).total_seconds()
        ),
        waitlist_enabled=r.flag("sale.waitlist.enabled", True),
        waitlist_offer_ttl_seconds=int(
            r.duration(
                "sale.waitlist.offerTTL", dt.timedelta(seconds=DEFAULT_OFFER_TTL_S)
            ).total_seconds()
        ),
        scaling=scaling,
        published=r.flag("published", True),
        waiting_room=waiting_room,
        seating=seating,
        require_verified_email=r.flag("sale.requireVerifiedEmail", False),
        hold_expiry_reminder_s=reminder,
    )
    if r.problems:
        raise SpecError(r.problems)
    return spec


def _ts(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def check_spec(spec: EventSpec) -> list[Problem]:
    """The rules the schema cannot express; an empty list means the spec makes sense."""
    problems: list[Problem] = []
    if spec.ends_at <= spec.starts_at:
        problems.append(
            Problem(
                "EndsBeforeStart",
                f"spec.endsAt ({_ts(spec.ends_at)}) must be after spec.startsAt "
                f"({_ts(spec.starts_at)})",
            )
        )
    opens, closes = spec.sale_opens_at, spec.sale_closes_at
    if opens is not None and closes is not None and closes <= opens:
        problems.append(
            Problem(
                "SaleClosesBeforeOpening",
                f"spec.sale.closesAt ({_ts(closes)}) must be after spec.sale.opensAt "
                f"({_ts(opens)})",
            )
        )
    if closes is not None and closes > spec.ends_at:
        problems.append(
            Problem(
                "SaleEndsAfterEvent",
                f"spec.sale.closesAt ({_ts(closes)}) must not be after the event ends "
                f"(spec.endsAt {_ts(spec.ends_at)})",
            )
        )
    if opens is not None and closes is None and opens >= spec.ends_at:
        problems.append(
            Problem(
                "SaleOpensAfterEvent",
                f"spec.sale.opensAt ({_ts(opens)}) must be before the event ends "
                f"(spec.endsAt {_ts(spec.ends_at)})",
            )
        )
    if spec.capacity > spec.venue.capacity:
        problems.append(
            Problem(
                "CapacityAboveVenue",
                f"spec.capacity ({spec.capacity}) exceeds spec.venue.capacity "
                f"({spec.venue.capacity})",
            )
        )
    return problems


def spec_warnings(spec: EventSpec) -> list[Problem]:
    """What the spec says that the operator accepts but ignores (deprecated fields)."""
    if spec.scaling is not None and spec.scaling.baseline_replicas is not None:
        return [
            Problem(
                "BaselineReplicasIgnored",
                "spec.scaling.baselineReplicas is deprecated and ignored: outside the sale "
                "window the operator leaves the replicas alone, and afterwards it restores "
                "exactly what it recorded when the window began",
            )
        ]
    return []


def read_valid_spec(raw: Mapping[str, Any]) -> EventSpec:
    """``parse_spec`` then ``check_spec``; raises ``SpecError`` with every problem."""
    spec = parse_spec(raw)
    problems = check_spec(spec)
    if problems:
        raise SpecError(problems)
    return spec


def to_event_input(spec: EventSpec, *, status: str) -> EventInput:
    """The events repository's input for ``spec``; ``SpecError`` if the service refuses it.

    ``status`` is ``published``/``draft`` (or ``completed``, kept once the service set it).
    """
    max_per_user = spec.max_per_user or min(DEFAULT_MAX_PER_USER, spec.capacity)
    try:
        return EventInput(
            name=spec.title,
            description=spec.description,
            type=spec.type,
            starts_at=spec.starts_at,
            ends_at=spec.ends_at,
            capacity=spec.capacity,
            price=spec.price,
            currency=spec.currency,
            status=status,
            sale_opens_at=spec.sale_opens_at,
            sale_closes_at=spec.sale_closes_at,
            max_per_user=max_per_user,
            hold_ttl_seconds=spec.hold_ttl_seconds,
            waitlist_enabled=spec.waitlist_enabled,
            waitlist_offer_ttl_seconds=spec.waitlist_offer_ttl_seconds,
            waiting_room=_waiting_room_input(spec.waiting_room),
            seating=_seating_input(spec.seating),
            require_verified_email=spec.require_verified_email,
            hold_expiry_reminder_s=spec.hold_expiry_reminder_s,
            venue=EventVenueInput(
                name=spec.venue.name,
                address=spec.venue.address,
                city=spec.venue.city,
                capacity=spec.venue.capacity,
            ),
        )
    except pydantic.ValidationError as exc:
        raise SpecError([_refusal(error) for error in exc.errors()]) from exc


def _seating_input(seating: Seating | None) -> Any:
    """The events model's ``seating`` (as data, so its errors name their field)."""
    if seating is None:
        return None
    return {
        "map_id": seating.map_id,
        "map_version": seating.map_version,
        "zone_prices": dict(seating.zone_prices),
        "channels": {name: list(seats) for name, seats in seating.channels},
    }


def _waiting_room_input(room: WaitingRoom | None) -> Any:
    """The events model's ``waiting_room`` (as data, so its errors name their field)."""
    if room is None:
        return None
    return {
        "enabled": room.enabled,
        "prequeue_opens_at": room.prequeue_opens_at,
        "admission_rate_per_minute": room.admission_rate_per_minute,
        "max_active_shoppers": room.max_active_shoppers,
        "session_ttl_s": room.session_ttl_s,
        "when_sold_out": room.when_sold_out,
        "when_unavailable": room.when_unavailable,
    }


# The events model's field names, as the resource's spec calls them.
_SPEC_FIELDS = {
    "name": "title",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "price": "price.amount",
    "currency": "price.currency",
    "sale_opens_at": "sale.opensAt",
    "sale_closes_at": "sale.closesAt",
    "max_per_user": "maxPerUser",
    "hold_ttl_seconds": "sale.holdTTL",
    "waitlist_offer_ttl_seconds": "sale.waitlist.offerTTL",
    "waitlist_enabled": "sale.waitlist.enabled",
    "waiting_room": "sale.waitingRoom",
    "seating": "seating",
    "require_verified_email": "sale.requireVerifiedEmail",
    "hold_expiry_reminder_s": "sale.holdExpiryReminder",
}
# The same for the waiting room's fields (inside sale.waitingRoom).
_WAITING_ROOM_FIELDS = {
    "enabled": "enabled",
    "prequeue_opens_at": "prequeueOpensAt",
    "admission_rate_per_minute": "admissionRatePerMinute",
    "max_active_shoppers": "maxActiveShoppers",
    "session_ttl_s": "sessionTTL",
    "when_sold_out": "whenSoldOut",
    "when_unavailable": "whenUnavailable",
}


def _refusal(error: Mapping[str, Any]) -> Problem:
    loc = [str(part) for part in error.get("loc", ())]
    if loc[:1] == ["venue"]:
        where = "venue." + ".".join(loc[1:])
    elif loc[:1] == ["waiting_room"] and len(loc) > 1:
        where = "sale.waitingRoom." + _WAITING_ROOM_FIELDS.get(loc[1], loc[1])
    elif loc and loc[0].startswith("waiting_room."):  # a cross-field rule's dotted name
        field = loc[0].removeprefix("waiting_room.")
        where = "sale.waitingRoom." + _WAITING_ROOM_FIELDS.get(field, field)
    else:
        where = _SPEC_FIELDS.get(loc[0], loc[0]) if loc else "spec"
    return Problem("RejectedByEventsService", f"spec.{where}: {error.get('msg', 'invalid')}")
