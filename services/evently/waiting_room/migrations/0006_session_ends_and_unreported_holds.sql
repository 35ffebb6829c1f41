-- When an admitted session ended (docs/waiting-room.md, "Sessions end early"), so that
-- bookings can refuse its admission token before the token's own expiry. ``ended_at``:
-- the ticker's clock when it ended the session; ``ended_xid``: the transaction that
-- ended it, set only when the token was still valid then. Bookings reads them in
-- (ended_xid, id) order (GET /internal/waiting-room/ended-sessions), and only below
-- every transaction still running, so a session ended by a transaction that commits
-- late is never skipped by a cursor already past it.
ALTER TABLE waiting_room.tickets
    ADD COLUMN ended_at  timestamptz,
    ADD COLUMN ended_xid xid8;

CREATE INDEX tickets_ended ON waiting_room.tickets (ended_xid, id)
    WHERE ended_xid IS NOT NULL;

-- Holds the room heard of (booking.changed) that bookings' inventory.changed had not
-- included yet: the seats of a hold made at inventory version v leave ``available`` only
-- in a version greater than v. Until the room has such a version, the ticker takes these
-- seats off the ``available`` it has, so a hold heard before its inventory is not counted
-- twice (its visitor decided, its seats still available). Pruned as versions arrive.
CREATE TABLE waiting_room.unreported_holds (
    event_id          bigint  NOT NULL,
    inventory_version bigint  NOT NULL,
    seats             integer NOT NULL,
    PRIMARY KEY (event_id, inventory_version)
);
