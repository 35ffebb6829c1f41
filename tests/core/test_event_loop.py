"""The event loop the services run on: asyncio's own by default, uvloop on request."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from evently.core import event_loop
from evently.core.settings import CommonSettings, SettingsError, load_settings

VALID = {"DATABASE_URL": "postgresql://db/evently", "INTERNAL_API_KEY": "k" * 20}


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_services_run_on_asyncios_own_loop_by_default() -> None:
    settings = load_settings(CommonSettings, VALID)
    assert settings.event_loop == "asyncio"
    loop = event_loop.run(_running_loop(), settings.event_loop)
    assert not isinstance(loop, uvloop.Loop) and isinstance(loop, asyncio.BaseEventLoop)


def test_event_loop_uvloop_runs_on_uvloop() -> None:
    settings = load_settings(CommonSettings, {**VALID, "EVENT_LOOP": "uvloop"})
    assert isinstance(event_loop.run(_running_loop(), settings.event_loop), uvloop.Loop)


def test_an_unknown_event_loop_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="EVENT_LOOP='tokio' is invalid"):
        load_settings(CommonSettings, {**VALID, "EVENT_LOOP": "tokio"})
