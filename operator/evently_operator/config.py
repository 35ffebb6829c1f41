"""Everything the operator reads from the environment, in one place.

Built on the services' settings loader: a missing or malformed variable stops the
operator at start-up with a message naming it (``SettingsError``).
"""

from __future__ import annotations

import random

from evently.core.settings import CommonSettings, SettingsError, load_settings, setting


class OperatorSettings(CommonSettings):
    """The operator's settings. ``PORT`` serves /metrics, /healthz and /readyz.

    Inherited and used: ``DATABASE_URL`` (the events schema, written through the events
    repository), ``INTERNAL_API_KEY`` and ``BOOKINGS_URL`` (availability figures),
    ``WAITING_ROOM_URL`` (queue lengths), ``HOST``/``PORT``, ``LOG_LEVEL`` and the
    ``DB_*`` pool limits.
    """

    watch_namespaces: tuple[str, ...] = setting(
        "WATCH_NAMESPACES", (), "a comma-separated list of namespaces (empty: all namespaces)"
    )
    peering_name: str = setting(
        "PEERING_NAME", "evently-operator", "the name of the kopf peering object"
    )
    peering_priority: int | None = setting(
        "PEERING_PRIORITY",
        None,
        "an integer 1..1000000; the highest live replica acts (empty: random per process)",
    )
    peering_lifetime_s: int = setting(
        "PEERING_LIFETIME_S", 60, "seconds (>= 5) after which a silent replica counts as gone"
    )
    peering_settle_s: float = setting(
        "PEERING_SETTLE_S",
        5.0,
        "seconds a starting replica waits, announced in the peering object, before it "
        "acts, so that replicas starting together never both act",
    )
    standalone: bool = setting(
        "STANDALONE", False, "true to run without peering (one replica only, e.g. locally)"
    )
    reconcile_interval_s: float = setting(
        "RECONCILE_INTERVAL_S",
        15.0,
        "seconds between level sweeps (drift repair, phase, figures, scaling)",
    )
    webhook_port: int | None = setting(
        "WEBHOOK_PORT",
        None,
        "the validating webhook's HTTPS port (empty: no webhook); needs WEBHOOK_CERT_FILE "
        "and WEBHOOK_KEY_FILE",
    )
    webhook_host: str = setting("WEBHOOK_HOST", "0.0.0.0", "the address the webhook binds")
    webhook_cert_file: str = setting(
        "WEBHOOK_CERT_FILE", "", "the webhook's serving certificate (PEM, with its chain)"
    )
    webhook_key_file: str = setting("WEBHOOK_KEY_FILE", "", "the webhook's private key (PEM)")
    bookings_timeout_s: float = setting(
        "BOOKINGS_TIMEOUT_S", 5.0, "seconds to wait for the bookings internal API"
    )
    waiting_room_timeout_s: float = setting(
        "WAITING_ROOM_TIMEOUT_S",
        2.0,
        "seconds to wait for a waiting room's queue length (status.waitingRoom)",
    )

    @property
    def effective_peering_priority(self) -> int:
        return self.peering_priority or _PROCESS_PRIORITY

    @staticmethod
    def check_watch_namespaces(value: tuple[str, ...]) -> str | None:
        bad = [ns for ns in value if not ns.replace("-", "").isalnum() or ns != ns.lower()]
        return f"not namespace names: {', '.join(bad)}" if bad else None

    @staticmethod
    def check_peering_priority(value: int | None) -> str | None:
        if value is None or 1 <= value <= 1_000_000:
            return None
        return "expected an integer 1..1000000"

    @staticmethod
    def check_peering_lifetime_s(value: int) -> str | None:
        return None if value >= 5 else "expected seconds >= 5"

    @staticmethod
    def check_peering_settle_s(value: float) -> str | None:
        return None if value >= 0 else "expected seconds >= 0"

    @staticmethod
    def check_reconcile_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_webhook_port(value: int | None) -> str | None:
        if value is None or 1 <= value <= 65535:
            return None
        return "expected a port 1..65535"

    @staticmethod
    def check_bookings_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_waiting_room_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"


# Replicas with equal priorities would all pause (kopf's rule), so each process draws its
# own; the chance that two of them collide is one in a million, and then both pause.
_PROCESS_PRIORITY = random.SystemRandom().randint(1, 1_000_000)


def load_operator_settings(environ: dict[str, str] | None = None) -> OperatorSettings:
    """Read the settings; raises ``SettingsError`` naming each bad variable."""
    settings = load_settings(OperatorSettings, environ)
    if settings.webhook_port is not None and not (
        settings.webhook_cert_file and settings.webhook_key_file
    ):
        raise SettingsError(
            [
                "WEBHOOK_PORT needs WEBHOOK_CERT_FILE and WEBHOOK_KEY_FILE (the serving "
                "certificate the API server trusts)"
            ]
        )
    return settings
