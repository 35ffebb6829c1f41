"""Every SQL statement of the events service, by name.

jsonb goes in as text (``$n::text::jsonb``) and comes out as text (``::text``), so the
statements work on any asyncpg connection, with or without Evently's JSON codecs: the
Kubernetes operator calls the repository on connections of its own.
"""

from __future__ import annotations

EVENT_COLUMNS = """
    e.id, e.version, e.name, e.description, e.type, e.status, e.starts_at, e.ends_at,
    e.capacity, e.price, e.currency, e.sale_opens_at, e.sale_closes_at, e.max_per_user,
    e.hold_ttl_seconds, e.waitlist_enabled, e.waitlist_offer_ttl_seconds, e.max_per_address,
    e.waiting_room::text AS waiting_room, e.require_verified_email, e.hold_expiry_reminder_s,
    e.managed_by,
    e.created_by, e.created_at, e.updated_at,
    v.id AS venue_id, v.name AS venue_name, v.address AS venue_address, v.city AS venue_city,
    v.capacity AS venue_capacity,
    e.seat_map_id, e.seat_map_version, e.zone_prices::text AS zone_prices,
    e.seat_channels::text AS seat_channels"""

EVENT_FROM = """
    FROM events.events e
    JOIN events.venues v ON v.id = e.venue_id"""

SELECT_EVENT = f"SELECT {EVENT_COLUMNS} {EVENT_FROM} WHERE e.id = $1"
SELECT_EVENT_BY_MANAGED_BY = f"SELECT {EVENT_COLUMNS} {EVENT_FROM} WHERE e.managed_by = $1"
# What the operator's level sweep compares for many resources at once: each owned
# event's version and status, and the seat figures bookings last published for it.
SELECT_MANAGED_STATES = """
    SELECT e.managed_by, e.id, e.version, e.status, a.sold, a.held, a.available
    FROM events.events e LEFT JOIN events.availability a ON a.event_id = e.id
    WHERE e.managed_by = ANY($1::text[])"""
SELECT_EVENT_ID_BY_NAME_AT_VENUE = """
    SELECT e.id FROM events.events e JOIN events.venues v ON v.id = e.venue_id
    WHERE e.name = $1 AND lower(v.name) = lower($2) AND lower(v.city) = lower($3)
    ORDER BY e.id LIMIT 1"""

# Bounded waits: a change takes a venue row lock and an event row lock, briefly.
SET_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '3s'"

# Insert the venue, or update it when (name, city) exists and something differs, and
# return its id either way (one round trip). ON CONFLICT locks the existing row even when
# nothing differs, so every change that touches a venue serialises on it first (then on
# the event): one lock order, no cycles. A venue committed by another transaction after
# this statement's snapshot is not in the second SELECT: no row, and SELECT_VENUE_ID
# (a new snapshot) finds it.
UPSERT_VENUE = """
    WITH upserted AS (
        INSERT INTO events.venues AS v (name, address, city, capacity)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (lower(name), lower(city)) DO UPDATE
            SET name = EXCLUDED.name, address = EXCLUDED.address, city = EXCLUDED.city,
                capacity = EXCLUDED.capacity, version = v.version + 1, updated_at = now()
            WHERE (v.name, v.address, v.city, v.capacity)
                  IS DISTINCT FROM
                  (EXCLUDED.name, EXCLUDED.address, EXCLUDED.city, EXCLUDED.capacity)
        RETURNING v.id, (v.xmax <> 0) AS updated)
    SELECT id, updated FROM upserted
    UNION ALL
    SELECT id, false FROM events.venues
    WHERE lower(name) = lower($1) AND lower(city) = lower($3)
      AND NOT EXISTS (SELECT FROM upserted)"""
# The venue exists unchanged and was committed after the upsert's snapshot: its id.
SELECT_VENUE_ID = """
    SELECT id FROM events.venues WHERE lower(name) = lower($1) AND lower(city) = lower($2)"""

INSERT_EVENT = """
    INSERT INTO events.events (
        name, description, type, starts_at, ends_at, capacity, price, currency, status,
        sale_opens_at, sale_closes_at, max_per_user, hold_ttl_seconds, waitlist_enabled,
        waitlist_offer_ttl_seconds, max_per_address, venue_id, created_by, managed_by,
        waiting_room, require_verified_email, hold_expiry_reminder_s)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20::text::jsonb, $21, $22)
    RETURNING id"""

SELECT_CAPACITY = "SELECT capacity FROM events.events WHERE id = $1"
LOCK_EVENT = """
    SELECT id, version, status, capacity, managed_by FROM events.events WHERE id = $1
    FOR UPDATE"""

# Writes the new state and bumps the version only if something differs ($18: the
# venue itself changed, which changes this event's state too; $20: the waiting room;
# $21, $22: the hold policies).
UPDATE_EVENT = """
    UPDATE events.events SET
        name = $2, description = $3, type = $4, starts_at = $5, ends_at = $6, capacity = $7,
        price = $8, currency = $9, status = $10, sale_opens_at = $11, sale_closes_at = $12,
        max_per_user = $13, hold_ttl_seconds = $14, waitlist_enabled = $15,
        waitlist_offer_ttl_seconds = $16, max_per_address = $17, venue_id = $19,
        waiting_room = $20::text::jsonb, require_verified_email = $21,
        hold_expiry_reminder_s = $22, version = version + 1, updated_at = now()
    WHERE id = $1 AND (
        $18::boolean
        OR (name, description, type, starts_at, ends_at, capacity, price, currency, status,
            sale_opens_at, sale_closes_at, max_per_user, hold_ttl_seconds, waitlist_enabled,
            waitlist_offer_ttl_seconds, max_per_address, venue_id, waiting_room,
            require_verified_email, hold_expiry_reminder_s)
           IS DISTINCT FROM
           ($2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz, $7::integer,
            $8::numeric, $9::char(3), $10::text, $11::timestamptz, $12::timestamptz,
            $13::integer, $14::integer, $15::boolean, $16::integer, $17::integer, $19::bigint,
            $20::text::jsonb, $21::boolean, $22::integer))
    RETURNING id"""

# A venue's details are part of each of its events' state: they all get a new version.
BUMP_EVENTS_AT_VENUE = """
    UPDATE events.events SET version = version + 1, updated_at = now()
    WHERE venue_id = $1 AND id <> $2
    RETURNING id"""

CANCEL_EVENT = """
    UPDATE events.events SET status = 'cancelled', version = version + 1, updated_at = now()
    WHERE id = $1
    RETURNING id"""

# The owning resource is gone: cancelled (unless it already happened) and owned by nobody.
RETIRE_EVENT = """
    UPDATE events.events SET
        status = CASE WHEN status = 'completed' THEN status ELSE 'cancelled' END,
        managed_by = NULL, version = version + 1, updated_at = now()
    WHERE id = $1
    RETURNING id"""

# Bookings' seat figures (topic inventory.changed), newest version wins.
UPSERT_AVAILABILITY = """
    INSERT INTO events.availability AS a (
        event_id, version, capacity, sold, held, available, on_sale, sold_out, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (event_id) DO UPDATE SET
        version = EXCLUDED.version, capacity = EXCLUDED.capacity, sold = EXCLUDED.sold,
        held = EXCLUDED.held, available = EXCLUDED.available, on_sale = EXCLUDED.on_sale,
        sold_out = EXCLUDED.sold_out, status = EXCLUDED.status, updated_at = now()
    WHERE a.version < EXCLUDED.version"""

# --- Lists -------------------------------------------------------------------------
# Conditions by filter name; ``{}`` is the parameter placeholder listing.py numbers.
# Seats left = our capacity minus what bookings last reported sold and held (none
# reported yet: all of it), so a capacity change counts before bookings catches up.
LIST_CONDITIONS = {
    "published": "e.status = 'published'",
    # Not ended yet: what a buyer browsing expects. The start bound follows from the
    # events_duration_bounded constraint; it lets the start-time indexes skip the past.
    "upcoming": "e.ends_at >= now() AND e.starts_at >= now() - interval '366 days'",
    "status": "e.status = {}",
    "city": "lower(v.city) = lower({})",
    "type": "e.type = {}",
    "venue_id": "e.venue_id = {}",
    "from": "e.starts_at >= {}",
    "to": "e.starts_at <= {}",
    "min_price": "e.price >= {}",
    "max_price": "e.price <= {}",
    "currency": "e.currency = {}",
    # Seats left for the public: the capacity less sold and held, and less the free seats
    # a seated event keeps back for a channel as bookings last reported them (its
    # capacity - sold - held - available; docs/seating.md "Channel allocations").
    "available": "(e.capacity - coalesce(a.sold, 0) - coalesce(a.held, 0)"
    " - coalesce(greatest(a.capacity - a.sold - a.held - a.available, 0), 0) > 0) = {}",
    "managed": "(e.managed_by IS NOT NULL) = {}",
}
LIST_ORDER = {
    "starts_at": "e.starts_at, e.id",
    "-starts_at": "e.starts_at DESC, e.id DESC",
    "price": "e.price, e.starts_at, e.id",
    "-price": "e.price DESC, e.starts_at, e.id",
}
LIST_FROM = f"""{EVENT_FROM}
    LEFT JOIN events.availability a ON a.event_id = e.id"""


def list_events_sql(conditions: list[str], order: str, params: int) -> tuple[str, str]:
    """The page query and the count query for ``conditions`` (already numbered).

    The page query takes two more parameters after the ``params`` filter values:
    LIMIT and OFFSET.
    """
    where = " AND ".join(conditions) or "true"
    page = (
        f"SELECT {EVENT_COLUMNS} {LIST_FROM} WHERE {where} "
        f"ORDER BY {LIST_ORDER[order]} LIMIT ${params + 1} OFFSET ${params + 2}"
    )
    count = f"SELECT count(*) {LIST_FROM} WHERE {where}"
    return page, count


# --- Venues (venues.py, venue_changes.py) ------------------------------------------
VENUE_COLUMNS = """
    v.id, v.version, v.name, v.address, v.city, v.capacity, v.legacy_layout::text AS
    legacy_layout, v.created_at, v.updated_at"""
SELECT_VENUE = f"SELECT {VENUE_COLUMNS} FROM events.venues v WHERE v.id = $1"
INSERT_VENUE = f"""
    INSERT INTO events.venues AS v (name, address, city, capacity) VALUES ($1, $2, $3, $4)
    ON CONFLICT (lower(name), lower(city)) DO NOTHING
    RETURNING {VENUE_COLUMNS}"""
LIST_VENUES = f"""
    SELECT {VENUE_COLUMNS} FROM events.venues v
    WHERE $1::text IS NULL OR lower(v.city) = lower($1)
    ORDER BY lower(v.city), lower(v.name), v.id LIMIT $2 OFFSET $3"""
COUNT_VENUES = """
    SELECT count(*) FROM events.venues v WHERE $1::text IS NULL OR lower(v.city) = lower($1)"""
# An event naming its venue by id: the venue may not change under it until commit
# (the same order as the upsert: venue first, then event).
SHARE_VENUE = "SELECT id, capacity FROM events.venues WHERE id = $1 FOR SHARE"
LOCK_VENUE = "SELECT id, version FROM events.venues WHERE id = $1 FOR UPDATE"
UPDATE_VENUE = """
    UPDATE events.venues AS v SET
        name = $2, address = $3, city = $4, capacity = $5, version = version + 1,
        updated_at = now()
    WHERE id = $1 AND (name, address, city, capacity) IS DISTINCT FROM ($2, $3, $4, $5::integer)
    RETURNING id"""
# The largest capacity of a live event at the venue: the floor for the venue's own.
MAX_EVENT_CAPACITY_AT_VENUE = """
    SELECT max(capacity) FROM events.events WHERE venue_id = $1 AND status <> 'cancelled'"""

# --- Seat maps (seat_maps.py, event_seating.py) ------------------------------------
SEAT_MAP_COLUMNS = "m.id, m.venue_id, m.name, m.latest_version, m.created_at, m.updated_at"
VERSION_INFO_COLUMNS = """
    s.map_id, m.venue_id, s.name, s.version, s.source, s.stats::text AS stats,
    s.created_by, s.created_at"""
INSERT_SEAT_MAP = """
    INSERT INTO events.seat_maps (venue_id, name, latest_version) VALUES ($1, $2, 1)
    RETURNING id"""
# Row-locks the map: concurrent uploads get consecutive versions.
NEXT_SEAT_MAP_VERSION = """
    UPDATE events.seat_maps SET latest_version = latest_version + 1, name = $2, updated_at = now()
    WHERE id = $1
    RETURNING latest_version"""
INSERT_SEAT_MAP_VERSION = """
    INSERT INTO events.seat_map_versions (
        map_id, version, name, source, seats, sellable_seats, stats, document, created_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9)"""
SELECT_SEAT_MAP = f"SELECT {SEAT_MAP_COLUMNS} FROM events.seat_maps m WHERE m.id = $1"
SELECT_VENUE_SEAT_MAPS = f"""
    SELECT {SEAT_MAP_COLUMNS} FROM events.seat_maps m WHERE m.venue_id = $1 ORDER BY m.id"""
SELECT_SEAT_MAP_VERSIONS = f"""
    SELECT {VERSION_INFO_COLUMNS}
    FROM events.seat_map_versions s JOIN events.seat_maps m ON m.id = s.map_id
    WHERE s.map_id = $1 ORDER BY s.version"""
SELECT_SEAT_MAP_VERSION = f"""
    SELECT {VERSION_INFO_COLUMNS}, s.sellable_seats, s.document::text AS document
    FROM events.seat_map_versions s JOIN events.seat_maps m ON m.id = s.map_id
    WHERE s.map_id = $1 AND s.version = $2"""
# What a seated event needs of its map version: where it is and how many seats it sells.
SELECT_SEAT_MAP_VERSION_FIGURES = """
    SELECT m.venue_id, s.sellable_seats,
           ARRAY(SELECT jsonb_object_keys(s.stats->'zones')) AS zones
    FROM events.seat_map_versions s JOIN events.seat_maps m ON m.id = s.map_id
    WHERE s.map_id = $1 AND s.version = $2"""
SELECT_EVENT_SEATING = "SELECT seat_map_id, seat_map_version FROM events.events WHERE id = $1"
# Pin the event's map version, zone prices and channels ($4, $5: jsonb as text);
# returns the id only if any of them changed.
SET_EVENT_SEATING = """
    UPDATE events.events SET seat_map_id = $2, seat_map_version = $3,
        zone_prices = $4::text::jsonb, seat_channels = $5::text::jsonb
    WHERE id = $1 AND (seat_map_id, seat_map_version, zone_prices, seat_channels)
          IS DISTINCT FROM ($2::bigint, $3::integer, $4::text::jsonb, $5::text::jsonb)
    RETURNING id"""
# Of the seat ids $3, those that are sellable seats of the version (channel allocations).
SELLABLE_SEATS_AMONG = """
    SELECT array_agg(seat->>'id') FROM events.seat_map_versions v,
        jsonb_array_elements(v.document->'sections') section,
        jsonb_array_elements(section->'rows') r,
        jsonb_array_elements(r->'seats') seat
    WHERE v.map_id = $1 AND v.version = $2 AND seat->>'id' = ANY($3::text[])
      AND NOT coalesce(seat->'flags' ? 'blocked', false)"""
