-- An event's virtual waiting room settings (docs/waiting-room.md), validated by the API
-- (events/models.py WaitingRoomInput) and carried in event.changed; NULL: no room.
ALTER TABLE events.events ADD COLUMN waiting_room jsonb;
