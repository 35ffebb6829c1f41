"""Settings for the waiting room service."""

from __future__ import annotations

from evently.core.settings import CommonSettings, setting


class WaitingRoomSettings(CommonSettings):
    """Everything the waiting room service reads from the environment."""

    tick_interval_s: float = setting(
        "WAITING_ROOM_TICK_INTERVAL_S",
        1.0,
        "seconds > 0 between admission ticks (one replica ticks each room at a time)",
    )
    ticker_enabled: bool = setting(
        "WAITING_ROOM_TICKER_ENABLED", True, "true or false: run the admission ticker here"
    )
    session_idle_s: float = setting(
        "WAITING_ROOM_SESSION_IDLE_S",
        180.0,
        "seconds >= 0: an admitted visitor with no open hold and no booking activity for "
        "this long loses their slot (0: only session_ttl_s or a purchase ends a session)",
    )
    state_refresh_s: float = setting(
        "WAITING_ROOM_STATE_REFRESH_S",
        5.0,
        "seconds > 0 between full reloads of the rooms' state this process keeps in memory "
        "(LISTEN/NOTIFY brings changes sooner)",
    )
    stream_heartbeat_s: float = setting(
        "WAITING_ROOM_STREAM_HEARTBEAT_S", 15.0, "seconds > 0 between status stream heartbeats"
    )
    stream_max_subscribers: int = setting(
        "WAITING_ROOM_STREAM_MAX_SUBSCRIBERS", 10000, "open status streams per process (>= 1)"
    )
    # Admission token signing keys: exactly one of the first two (docs/waiting-room.md).
    admission_signing_keys: str = setting(
        "ADMISSION_SIGNING_KEYS", "", 'a JSON object {"<kid>": "<Ed25519 private key PEM>", ...}'
    )
    admission_signing_keys_dir: str = setting(
        "ADMISSION_SIGNING_KEYS_DIR",
        "",
        "a directory holding one <kid>.pem Ed25519 private key each",
    )
    admission_active_kid: str = setting(
        "ADMISSION_ACTIVE_KID", "", "the kid that signs admission tokens (required with several)"
    )

    @staticmethod
    def check_tick_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_session_idle_s(value: float) -> str | None:
        return None if value >= 0 else "expected seconds >= 0"

    @staticmethod
    def check_state_refresh_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_stream_heartbeat_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_stream_max_subscribers(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"
