-- Tickets: one per seat of a confirmed booking, issued after the confirmation commits
-- (sql/issue_tickets.sql) and voided when the booking is cancelled. `code` is the signed
-- text a scanner verifies offline (bookings/ticket_codes.py). Check-in columns come later.
CREATE TABLE bookings.tickets (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id bigint      NOT NULL REFERENCES bookings.bookings (id) ON DELETE CASCADE,
    event_id   bigint      NOT NULL,
    user_id    bigint      NOT NULL,
    seat       integer     NOT NULL CHECK (seat >= 1),
    code       text        NOT NULL UNIQUE,
    status     text        NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'void')),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    voided_at  timestamptz,
    CONSTRAINT tickets_booking_seat_key UNIQUE (booking_id, seat),
    CONSTRAINT tickets_voided_when_void CHECK ((status = 'void') = (voided_at IS NOT NULL))
);
