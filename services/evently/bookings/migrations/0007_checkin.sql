-- Check-in (docs/checkin.md): a ticket's first valid scan records when, at which gate and
-- by whom; sql/check_in_ticket.sql sets the three together, once. The event index serves
-- the offline check-in list (every ticket of one event).
ALTER TABLE bookings.tickets
    ADD COLUMN checked_in_at   timestamptz,
    ADD COLUMN checked_in_gate text,
    ADD COLUMN checked_in_by   bigint,
    ADD CONSTRAINT tickets_checked_in_together CHECK (
        (checked_in_at IS NULL) = (checked_in_gate IS NULL)
        AND (checked_in_at IS NULL) = (checked_in_by IS NULL));
CREATE INDEX tickets_event_idx ON bookings.tickets (event_id, id);
