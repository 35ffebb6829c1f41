-- Check a ticket in at a gate of p_event_id: the answer to one scan of a code whose
-- signature the caller verified (bookings/checkin.py). Returns the result and the ticket
-- as it stands after the scan:
--   valid               this scan checked it in (checked_in_* now set) and wrote
--                       ticket.checked_in to the outbox, in this transaction;
--   already_checked_in  an earlier scan did (checked_in_at/_gate say when and where);
--   void                its booking was cancelled;
--   not_for_this_event  it admits to another event;
--   not_issued          no ticket carries this code (ticket is null).
-- Race-safe across replicas: the first UPDATE is the only writer. Two concurrent scans of
-- one ticket both try it; the second waits for the first's row lock, re-reads the row,
-- finds checked_in_at set and updates nothing, so exactly one scan answers valid. A
-- cancel locks the same row, so a ticket is never checked in after it was voided.
CREATE OR REPLACE FUNCTION bookings.check_in_ticket(
    p_code text, p_event_id bigint, p_gate text, p_scanned_by bigint,
    OUT result text, OUT ticket bookings.tickets)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bookings.tickets
    SET checked_in_at = now(), checked_in_gate = p_gate, checked_in_by = p_scanned_by
    WHERE code = p_code AND event_id = p_event_id
      AND status = 'valid' AND checked_in_at IS NULL
    RETURNING * INTO ticket;
    IF FOUND THEN
        PERFORM bookings.emit_ticket_checked_in(ticket);
        PERFORM pg_notify('bookings_outbox', '');
        result := 'valid';
        RETURN;
    END IF;
    SELECT * INTO ticket FROM bookings.tickets WHERE code = p_code;
    result := CASE
        WHEN NOT FOUND THEN 'not_issued'
        WHEN ticket.event_id <> p_event_id THEN 'not_for_this_event'
        WHEN ticket.status = 'void' THEN 'void'
        ELSE 'already_checked_in' END;
END
$$;
