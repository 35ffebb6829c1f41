-- The seats bookings last reported available (inventory.changed's ``available``; NULL
-- until the first report): admission never lets active shoppers outnumber them.
ALTER TABLE waiting_room.rooms ADD COLUMN available integer;
