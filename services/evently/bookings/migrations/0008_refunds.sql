-- Refunds (docs/payments.md): one per cancelled paid booking, created in the cancelling
-- transaction (sql/cancel_booking.sql, sql/cancel_event_bookings.sql) so it is never
-- lost, then driven to succeeded or failed by the refund worker (bookings/refunds.py)
-- and the payment provider's webhooks.
CREATE TABLE bookings.refunds (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id         bigint      NOT NULL UNIQUE REFERENCES bookings.bookings (id),
    event_id           bigint      NOT NULL,
    user_id            bigint      NOT NULL,
    -- Why: 'booking_cancelled' (the customer), 'event_cancelled' (the organiser), or
    -- 'payment_not_confirmed' (paid, but the confirmation was refused, e.g. too late).
    reason             text        NOT NULL
        CHECK (reason IN ('booking_cancelled', 'event_cancelled', 'payment_not_confirmed')),
    amount             numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency           text        NOT NULL,
    -- The provider's id of the payment being refunded (bookings.payment_reference).
    payment_reference  text        NOT NULL,
    status             text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Calls to the provider that ended in an error or a timeout (not "still pending").
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    provider_refund_id text        UNIQUE,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    version            integer     NOT NULL DEFAULT 1
);
-- The refund worker claims due pending refunds through this one.
CREATE INDEX refunds_due_idx ON bookings.refunds (next_attempt_at) WHERE status = 'pending';
