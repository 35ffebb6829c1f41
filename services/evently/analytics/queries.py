"""Every SQL statement of the analytics service, named after what it does.

Analytics reads and writes only its own schema, ``analytics``. The upserts apply a fact
only when it is newer than the stored one (``version`` is the aggregate's version), so a
re-delivered or out-of-date message changes nothing.
"""

from __future__ import annotations

# --- facts (written by the inbox handlers) -------------------------------------------

UPSERT_EVENT = """
INSERT INTO analytics.events AS e
    (event_id, version, name, status, capacity, price, currency, starts_at, ends_at,
     sale_opens_at, sale_closes_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
ON CONFLICT (event_id) DO UPDATE SET
    version = EXCLUDED.version, name = EXCLUDED.name, status = EXCLUDED.status,
    capacity = EXCLUDED.capacity, price = EXCLUDED.price, currency = EXCLUDED.currency,
    starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
    sale_opens_at = EXCLUDED.sale_opens_at, sale_closes_at = EXCLUDED.sale_closes_at,
    created_at = EXCLUDED.created_at, updated_at = now()
WHERE e.version < EXCLUDED.version
RETURNING true
"""

UPSERT_INVENTORY = """
INSERT INTO analytics.inventory AS i
    (event_id, version, capacity, sold, held, available, on_sale, sold_out, status, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (event_id) DO UPDATE SET
    version = EXCLUDED.version, capacity = EXCLUDED.capacity, sold = EXCLUDED.sold,
    held = EXCLUDED.held, available = EXCLUDED.available, on_sale = EXCLUDED.on_sale,
    sold_out = EXCLUDED.sold_out, status = EXCLUDED.status, updated_at = now()
WHERE i.version < EXCLUDED.version
RETURNING true
"""

UPSERT_BOOKING = """
INSERT INTO analytics.bookings AS b
    (booking_id, version, event_id, user_id, quantity, status, unit_price, currency, amount,
     created_at, hold_expires_at, confirmed_at, cancelled_at, expired_at, waitlist_entry_id,
     updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now())
ON CONFLICT (booking_id) DO UPDATE SET
    version = EXCLUDED.version, event_id = EXCLUDED.event_id, user_id = EXCLUDED.user_id,
    quantity = EXCLUDED.quantity, status = EXCLUDED.status,
    unit_price = EXCLUDED.unit_price, currency = EXCLUDED.currency, amount = EXCLUDED.amount,
    created_at = EXCLUDED.created_at, hold_expires_at = EXCLUDED.hold_expires_at,
    -- A transition's time, once known, is kept even if a later state omits it.
    confirmed_at = coalesce(EXCLUDED.confirmed_at, b.confirmed_at),
    cancelled_at = coalesce(EXCLUDED.cancelled_at, b.cancelled_at),
    expired_at = coalesce(EXCLUDED.expired_at, b.expired_at),
    waitlist_entry_id = EXCLUDED.waitlist_entry_id, updated_at = now()
WHERE b.version < EXCLUDED.version
RETURNING true
"""

UPSERT_WAITLIST_ENTRY = """
INSERT INTO analytics.waitlist_entries AS w
    (entry_id, version, event_id, user_id, quantity, status, offer_expires_at, booking_id,
     updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (entry_id) DO UPDATE SET
    version = EXCLUDED.version, event_id = EXCLUDED.event_id, user_id = EXCLUDED.user_id,
    quantity = EXCLUDED.quantity, status = EXCLUDED.status,
    offer_expires_at = EXCLUDED.offer_expires_at, booking_id = EXCLUDED.booking_id,
    updated_at = now()
WHERE w.version < EXCLUDED.version
RETURNING true
"""

RECORD_WAITLIST_TRANSITION = """
INSERT INTO analytics.waitlist_transitions (entry_id, version, event_id, transition, quantity, at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (entry_id, version) DO NOTHING
RETURNING true
"""

RECORD_CHECKIN = """
INSERT INTO analytics.checkins (ticket_id, event_id, booking_id, seat, gate, checked_in_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (ticket_id) DO NOTHING
RETURNING true
"""

# --- overview ------------------------------------------------------------------------

# "On sale": published, inside its sale window (null = unbounded), not sold out.
EVENT_COUNTS = """
SELECT
    -- Bookings' rule (bookings.sale_state): without a closing time, sales end when the
    -- event does, so an event that has ended is never on sale.
    count(*) FILTER (
        WHERE e.status = 'published'
          AND (e.sale_opens_at IS NULL OR e.sale_opens_at <= now())
          AND (e.sale_closes_at IS NULL OR e.sale_closes_at > now())
          AND now() < coalesce(e.ends_at, e.starts_at, 'infinity')
          AND NOT coalesce(i.sold_out, false)) AS on_sale,
    count(*) FILTER (WHERE e.status = 'published') AS published,
    count(*) FILTER (WHERE e.status IN ('published', 'completed')
                       AND coalesce(i.sold_out, false)) AS sold_out,
    count(*) AS known
FROM analytics.events e
LEFT JOIN analytics.inventory i USING (event_id)
"""

TICKETS_SOLD = """
SELECT coalesce(sum(quantity), 0) AS tickets_sold, count(*) AS bookings_confirmed
FROM analytics.bookings WHERE status = 'confirmed'
"""

REVENUE_BY_CURRENCY = """
SELECT currency, sum(amount) AS amount
FROM analytics.bookings
WHERE status = 'confirmed' AND currency IS NOT NULL
GROUP BY currency ORDER BY currency
"""

# Sell-through over events that sell (published or completed): sold / capacity.
SELL_THROUGH = """
SELECT coalesce(sum(coalesce(i.capacity, e.capacity)), 0) AS capacity,
       coalesce(sum(s.sold), 0) AS sold
FROM analytics.events e
LEFT JOIN analytics.inventory i USING (event_id)
LEFT JOIN (SELECT event_id, sum(quantity) AS sold FROM analytics.bookings
           WHERE status = 'confirmed' GROUP BY event_id) s USING (event_id)
WHERE e.status IN ('published', 'completed')
"""

TOP_EVENTS_BY_SALES = """
SELECT s.event_id, e.name, e.status, coalesce(i.capacity, e.capacity) AS capacity,
       s.sold, s.bookings
FROM (SELECT event_id, sum(quantity) AS sold, count(*) AS bookings
      FROM analytics.bookings WHERE status = 'confirmed' GROUP BY event_id) s
LEFT JOIN analytics.events e USING (event_id)
LEFT JOIN analytics.inventory i USING (event_id)
ORDER BY s.sold DESC, s.event_id
LIMIT $1
"""

REVENUE_BY_EVENT_AND_CURRENCY = """
SELECT event_id, currency, sum(amount) AS amount
FROM analytics.bookings
WHERE status = 'confirmed' AND currency IS NOT NULL AND event_id = ANY($1::bigint[])
GROUP BY event_id, currency ORDER BY event_id, currency
"""

RECENT_BOOKINGS = """
SELECT
    count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS holds_1h,
    count(*) FILTER (WHERE created_at > now() - interval '24 hours') AS holds_24h,
    count(*) FILTER (WHERE confirmed_at > now() - interval '1 hour') AS confirmed_1h,
    count(*) FILTER (WHERE confirmed_at > now() - interval '24 hours') AS confirmed_24h,
    coalesce(sum(quantity) FILTER (WHERE confirmed_at > now() - interval '1 hour'), 0)
        AS tickets_1h,
    coalesce(sum(quantity) FILTER (WHERE confirmed_at > now() - interval '24 hours'), 0)
        AS tickets_24h
FROM analytics.bookings
WHERE created_at > now() - interval '24 hours' OR confirmed_at > now() - interval '24 hours'
"""

# --- one event -----------------------------------------------------------------------

EVENT_FACTS = """
SELECT e.event_id AS event_id_from_events, e.name, e.status, e.capacity AS event_capacity,
       e.currency, i.event_id AS event_id_from_inventory, i.capacity, i.sold, i.held,
       i.available, i.on_sale, i.sold_out, i.version AS inventory_version,
       i.updated_at AS inventory_updated_at
FROM (SELECT $1::bigint AS event_id) k
LEFT JOIN analytics.events e USING (event_id)
LEFT JOIN analytics.inventory i USING (event_id)
"""

# Every booking starts as a hold; "confirmed" counts bookings ever confirmed (even if
# cancelled later), the numerator of hold->confirm conversion.
EVENT_BOOKING_COUNTS = """
SELECT
    count(*) AS holds_placed,
    count(*) FILTER (WHERE confirmed_at IS NOT NULL OR status = 'confirmed') AS confirmed,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    count(*) FILTER (WHERE status = 'expired') AS expired,
    count(*) FILTER (WHERE status = 'held') AS active_holds,
    coalesce(sum(quantity) FILTER (WHERE status = 'confirmed'), 0) AS tickets_sold,
    coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0) AS tickets_held,
    coalesce(sum(quantity) FILTER (WHERE status = 'cancelled'), 0) AS tickets_cancelled,
    coalesce(sum(quantity) FILTER (WHERE status = 'expired'), 0) AS tickets_expired,
    min(created_at) AS first_activity_at
FROM analytics.bookings WHERE event_id = $1
"""

EVENT_REVENUE = """
SELECT currency, sum(amount) AS amount
FROM analytics.bookings
WHERE event_id = $1 AND status = 'confirmed' AND currency IS NOT NULL
GROUP BY currency ORDER BY currency
"""

EVENT_WAITLIST_TRANSITIONS = """
SELECT transition, count(*) AS entries, coalesce(sum(quantity), 0) AS seats
FROM analytics.waitlist_transitions WHERE event_id = $1
GROUP BY transition
"""

EVENT_WAITLIST_ENTRIES = """
SELECT status, count(*) AS entries
FROM analytics.waitlist_entries WHERE event_id = $1
GROUP BY status
"""

EVENT_CHECKINS_BY_GATE = """
SELECT gate, count(*) AS checked_in, max(checked_in_at) AS last_checked_in_at
FROM analytics.checkins WHERE event_id = $1
GROUP BY gate ORDER BY gate
"""

# Buckets are aligned on the Unix epoch ($2 is the bucket width); $3/$4 the range.
TIMELINE_HOLDS = """
SELECT date_bin($2::interval, created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       count(*) AS holds
FROM analytics.bookings
WHERE event_id = $1 AND created_at >= $3 AND created_at < $4
GROUP BY bucket
"""

TIMELINE_CONFIRMATIONS = """
SELECT date_bin($2::interval, confirmed_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       currency, count(*) AS confirmed, sum(quantity) AS tickets, sum(amount) AS amount
FROM analytics.bookings
WHERE event_id = $1 AND confirmed_at >= $3 AND confirmed_at < $4
GROUP BY bucket, currency
"""

TIMELINE_CANCELLATIONS = """
SELECT date_bin($2::interval, cancelled_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       count(*) AS cancelled
FROM analytics.bookings
WHERE event_id = $1 AND status = 'cancelled' AND cancelled_at >= $3 AND cancelled_at < $4
GROUP BY bucket
"""

TIMELINE_EXPIRATIONS = """
SELECT date_bin($2::interval, expired_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       count(*) AS expired
FROM analytics.bookings
WHERE event_id = $1 AND status = 'expired' AND expired_at >= $3 AND expired_at < $4
GROUP BY bucket
"""

TIMELINE_CHECKINS = """
SELECT date_bin($2::interval, checked_in_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       count(*) AS checked_in
FROM analytics.checkins
WHERE event_id = $1 AND checked_in_at >= $3 AND checked_in_at < $4
GROUP BY bucket
"""

CURRENT_TIME = "SELECT now()"
