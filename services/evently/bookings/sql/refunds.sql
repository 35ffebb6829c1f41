-- Refunds (docs/payments.md): created in the cancelling transaction, claimed and
-- resolved by the refund worker (bookings/refunds.py) and the provider's webhooks.
-- Every state change emits refund.changed in the same transaction.

CREATE OR REPLACE FUNCTION bookings.emit_refund(r bookings.refunds, p_transition text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (topic, key, version, payload)
    VALUES ('refund.changed', r.id::text, r.version,
            jsonb_build_object('transition', p_transition, 'at', now(),
                               -- numeric(12, 2) as text keeps its two places ("49.90")
                               'refund', to_jsonb(r) || jsonb_build_object(
                                   'amount', r.amount::text)))
$$;

-- The refunds cancelled bookings owe (the caller has just cancelled them in this
-- transaction): one for each that was paid (a payment reference and a positive
-- amount), never a second one for the same booking. Set-based, for event
-- cancellation's batches. Returns how many were created.
CREATE OR REPLACE FUNCTION bookings.create_refunds(p_bookings bookings.bookings[], p_reason text)
RETURNS integer LANGUAGE sql AS $$
    WITH created AS (
        INSERT INTO bookings.refunds AS r (booking_id, event_id, user_id, reason, amount,
                                           currency, payment_reference)
        SELECT b.id, b.event_id, b.user_id, p_reason, coalesce(b.amount, b.unit_price * b.quantity),
               b.currency,
               b.payment_reference
        FROM unnest(p_bookings) b
        WHERE b.payment_reference IS NOT NULL AND coalesce(b.amount, b.unit_price * b.quantity) > 0
        ORDER BY b.id
        ON CONFLICT (booking_id) DO NOTHING
        RETURNING r)
    SELECT count(*)::integer FROM created c, LATERAL bookings.emit_refund(c.r, 'created')
$$;

-- The refund one cancelled booking owes, if it was paid; returns whether it was created.
CREATE OR REPLACE FUNCTION bookings.create_refund(b bookings.bookings, p_reason text)
RETURNS boolean LANGUAGE sql AS $$
    SELECT bookings.create_refunds(ARRAY[b], p_reason) > 0
$$;

-- Claim up to p_limit due pending refunds for one worker: each is leased for
-- p_lease_s (its next_attempt_at moves on), so another replica's worker skips it while
-- the provider call runs outside any transaction. SKIP LOCKED: claimers never wait.
CREATE OR REPLACE FUNCTION bookings.claim_refunds(p_limit integer, p_lease_s double precision)
RETURNS SETOF bookings.refunds LANGUAGE sql AS $$
    UPDATE bookings.refunds r
    SET next_attempt_at = now() + make_interval(secs => p_lease_s)
    FROM (SELECT id FROM bookings.refunds
          WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id
          LIMIT p_limit
          FOR UPDATE SKIP LOCKED) due
    WHERE r.id = due.id
    RETURNING r.*
$$;

-- Record what the provider answered for a refund that is still pending:
--   p_status 'succeeded' or 'failed': final;
--   'pending': the provider is still working on it (a webhook, or the next check
--       after p_retry_in_s, resolves it);
--   'error': the call failed or timed out: one more attempt, retried after p_retry_in_s,
--       or failed once p_max_attempts are used up.
-- Returns the refund after the change (NULL if it was no longer pending).
CREATE OR REPLACE FUNCTION bookings.record_refund_attempt(
    p_refund_id bigint, p_status text, p_provider_refund_id text, p_error text,
    p_retry_in_s double precision, p_max_attempts integer)
RETURNS bookings.refunds LANGUAGE plpgsql AS $$
DECLARE
    r bookings.refunds;
    was bookings.refunds;
BEGIN
    SELECT * INTO was FROM bookings.refunds WHERE id = p_refund_id FOR UPDATE;
    IF NOT FOUND OR was.status <> 'pending' THEN
        RETURN NULL;
    END IF;
    UPDATE bookings.refunds SET
        attempts = attempts + (p_status = 'error')::integer,
        status = CASE
            WHEN p_status IN ('succeeded', 'failed') THEN p_status
            WHEN p_status = 'error' AND attempts + 1 >= p_max_attempts THEN 'failed'
            ELSE 'pending' END,
        provider_refund_id = coalesce(p_provider_refund_id, provider_refund_id),
        last_error = CASE WHEN p_status = 'succeeded' THEN NULL
                          ELSE coalesce(p_error, last_error) END,
        next_attempt_at = now() + make_interval(secs => p_retry_in_s),
        updated_at = now(),
        version = version + 1
    WHERE id = p_refund_id
    RETURNING * INTO r;
    IF r.status <> was.status THEN
        PERFORM bookings.emit_refund(r, r.status);
    END IF;
    RETURN r;
END
$$;

-- A provider webhook's final word on a refund, found by our refund id (the idempotency
-- key the worker sent) or the provider's. Only a pending refund changes, so a
-- redelivered webhook changes nothing. Returns the refund after the change, or NULL.
CREATE OR REPLACE FUNCTION bookings.resolve_refund(
    p_refund_id bigint, p_provider_refund_id text, p_status text, p_error text)
RETURNS bookings.refunds LANGUAGE plpgsql AS $$
DECLARE
    r bookings.refunds;
BEGIN
    UPDATE bookings.refunds SET
        status = p_status,
        provider_refund_id = coalesce(provider_refund_id, p_provider_refund_id),
        last_error = CASE WHEN p_status = 'failed' THEN p_error END,
        updated_at = now(),
        version = version + 1
    WHERE id = coalesce(p_refund_id, (SELECT id FROM bookings.refunds
                                      WHERE provider_refund_id = p_provider_refund_id))
      AND status = 'pending' AND p_status IN ('succeeded', 'failed')
    RETURNING * INTO r;
    IF FOUND THEN
        PERFORM bookings.emit_refund(r, r.status);
        RETURN r;
    END IF;
    RETURN NULL;
END
$$;

-- A payment the customer made (p_payment_reference, verified with the provider) that
-- its booking's confirmation did not take: the hold expired meanwhile, the event was
-- cancelled, or the booking was confirmed earlier without it. Refunded whole; returns
-- whether a refund was created (none if the booking holds this very payment).
CREATE OR REPLACE FUNCTION bookings.refund_unconfirmed_payment(
    p_booking_id bigint, p_payment_reference text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    b bookings.bookings;
BEGIN
    SELECT * INTO b FROM bookings.bookings WHERE id = p_booking_id;
    IF NOT FOUND OR b.payment_reference IS NOT DISTINCT FROM p_payment_reference THEN
        RETURN false;
    END IF;
    b.payment_reference := p_payment_reference;
    RETURN bookings.create_refund(b, 'payment_not_confirmed');
END
$$;
