-- The one lock call (core/locks.py TAKE_LOCKS_FUNCTION_SQL, with SCHEMA = bookings).
CREATE OR REPLACE FUNCTION bookings.take_advisory_xact_locks(
    p_key_ns integer[], p_key_ids integer[],
    p_probe_ns integer[], p_probe_ids integer[],
    p_lock_timeout_ms integer,
    OUT lock_wait_s double precision, OUT busy_probes integer[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    started timestamptz := clock_timestamp();
    k record;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
    busy_probes := '{}';
    FOR k IN SELECT ns, id, n FROM unnest(p_probe_ns, p_probe_ids) WITH ORDINALITY AS t(ns, id, n)
             ORDER BY ns, id, n
    LOOP
        IF NOT pg_try_advisory_xact_lock(k.ns, k.id) THEN
            busy_probes := busy_probes || k.n::integer;
        END IF;
    END LOOP;
    FOR k IN SELECT DISTINCT ns, id FROM unnest(p_key_ns, p_key_ids) AS t(ns, id) ORDER BY ns, id
    LOOP
        PERFORM pg_advisory_xact_lock(k.ns, k.id);
    END LOOP;
    lock_wait_s := extract(epoch FROM clock_timestamp() - started);
END
$fn$;
