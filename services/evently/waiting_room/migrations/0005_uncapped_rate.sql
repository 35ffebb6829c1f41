-- The admission rate achieved, measured only where the rate alone decided admission
-- (docs/waiting-room.md, "Fairness report"). Each tick records whether something else
-- capped it (the event sold out, the free shopper slots, which the seats left bound too,
-- or an empty queue): ``last_tick_capped``, and ``capped_ticks`` counts them. A tick
-- counts towards the rate only if neither it nor the tick before was capped (the tick
-- after a capped one spends credit banked while capped): its seconds since the previous
-- tick go to ``rate_measured_s``, its admissions to ``rate_measured_admitted``.
ALTER TABLE waiting_room.rooms
    ADD COLUMN last_tick_capped       boolean          NOT NULL DEFAULT true,
    ADD COLUMN capped_ticks           bigint           NOT NULL DEFAULT 0,
    ADD COLUMN rate_measured_s        double precision NOT NULL DEFAULT 0,
    ADD COLUMN rate_measured_admitted bigint           NOT NULL DEFAULT 0;
