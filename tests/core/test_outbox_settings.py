"""The relay's settings: how many messages one delivery carries."""

from __future__ import annotations

import pytest

from evently.bookings.relay import bookings_relay
from evently.bookings.settings import BookingsSettings
from evently.core.settings import SettingsError, load_settings

VALID = {
    "DATABASE_URL": "postgresql://db/evently",
    "INTERNAL_API_KEY": "k" * 20,
    "TICKET_SIGNING_KEYS": "",
}


def _settings(**env: str) -> BookingsSettings:
    return load_settings(BookingsSettings, {**VALID, **env})


def test_outbox_batch_size_reaches_the_relay() -> None:
    assert bookings_relay(_settings(), lambda: None).batch_size == 200  # type: ignore[arg-type, return-value]
    relay = bookings_relay(_settings(OUTBOX_BATCH_SIZE="1000"), lambda: None)  # type: ignore[arg-type, return-value]
    assert relay.batch_size == 1000


@pytest.mark.parametrize("value", ["0", "1001"])
def test_an_outbox_batch_larger_than_an_inbox_takes_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=f"OUTBOX_BATCH_SIZE='{value}' is invalid"):
        _settings(OUTBOX_BATCH_SIZE=value)
