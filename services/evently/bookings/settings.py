"""Settings for the bookings service."""

from __future__ import annotations

from evently.core.settings import OutboxRelaySettings, setting


class BookingsSettings(OutboxRelaySettings):
    """Everything the bookings service reads from the environment."""

    # A flash sale keeps many connections busy at once (holds queue on the event lock
    # while confirmations run in parallel), so the default pool is larger than others'.
    db_pool_max: int = setting("DB_POOL_MAX", 20, "an integer >= 1")
    lock_timeout_ms: int = setting(
        "BOOKINGS_LOCK_TIMEOUT_MS", 2000, "milliseconds > 0 to wait for an event's lock"
    )
    hold_batch_max: int = setting(
        "BOOKINGS_HOLD_BATCH_MAX",
        64,
        "holds (> 0) of one event that may share one transaction",
    )
    confirm_batch_max: int = setting(
        "BOOKINGS_CONFIRM_BATCH_MAX",
        64,
        "confirmations (> 0) that may share one transaction",
    )
    idempotency_ttl_s: int = setting(
        "BOOKINGS_IDEMPOTENCY_TTL_S", 86400, "seconds > 0 an Idempotency-Key is remembered"
    )
    expiry_interval_s: float = setting(
        "BOOKINGS_EXPIRY_INTERVAL_S", 1.0, "seconds > 0 between expiry sweeps"
    )
    expiry_batch_size: int = setting(
        "BOOKINGS_EXPIRY_BATCH_SIZE", 100, "holds (> 0) one expiry transaction releases"
    )
    publish_interval_s: float = setting(
        "BOOKINGS_PUBLISH_INTERVAL_S",
        0.1,
        "seconds >= 0 to gather inventory changes before publishing them",
    )
    reconcile_interval_s: float = setting(
        "BOOKINGS_RECONCILE_INTERVAL_S",
        5.0,
        "seconds > 0 between checks for inventory that changed but was not published",
    )
    sse_heartbeat_s: float = setting(
        "BOOKINGS_SSE_HEARTBEAT_S", 15.0, "seconds > 0 between availability-stream heartbeats"
    )
    sse_max_subscribers: int = setting(
        "BOOKINGS_SSE_MAX_SUBSCRIBERS", 10000, "open availability streams (> 0) per process"
    )
    # Ticket signing keys: exactly one of the first two (docs/tickets.md); loaded and
    # checked by ticket_keys.load_ticket_keys when the app is built.
    ticket_signing_keys: str = setting(
        "TICKET_SIGNING_KEYS", "", 'a JSON object {"<kid>": "<Ed25519 private key PEM>", ...}'
    )
    ticket_signing_keys_dir: str = setting(
        "TICKET_SIGNING_KEYS_DIR", "", "a directory holding one <kid>.pem Ed25519 private key each"
    )
    ticket_active_kid: str = setting(
        "TICKET_ACTIVE_KID", "", "the kid that signs new tickets (required with several keys)"
    )
    ticket_issue_quiet_s: float = setting(
        "TICKET_ISSUE_QUIET_S",
        0.5,
        "seconds > 0 without a confirmation before queued tickets are issued",
    )
    ticket_issue_max_delay_s: float = setting(
        "TICKET_ISSUE_MAX_DELAY_S",
        60.0,
        "seconds > 0 a confirmed booking waits for its tickets at most, even mid-rush",
    )
    ticket_issue_batch_size: int = setting(
        "TICKET_ISSUE_BATCH_SIZE", 500, "bookings (> 0) whose tickets one statement issues"
    )
    admission_keys_url: str = setting(
        "ADMISSION_KEYS_URL",
        "",
        "the waiting room's admission keys (default: WAITING_ROOM_URL/.well-known/"
        "admission-keys.json)",
    )
    admission_refresh_s: float = setting(
        "BOOKINGS_ADMISSION_REFRESH_S",
        1.0,
        "seconds > 0 between reloads of which events require a waiting room admission token",
    )
    verified_email_refresh_s: float = setting(
        "BOOKINGS_VERIFIED_EMAIL_REFRESH_S",
        1.0,
        "seconds > 0 between reloads of which events require a verified email to hold seats",
    )
    inventory_gauge_events: int = setting(
        "BOOKINGS_INVENTORY_GAUGE_EVENTS",
        50,
        "events (>= 0) whose inventory this process exports as gauges",
    )

    # Payments and refunds (docs/payments.md).
    payment_provider: str = setting(
        "PAYMENT_PROVIDER", "fake", "the payment provider: fake (the only one so far)"
    )
    payment_webhook_secret: str = setting(
        "PAYMENT_WEBHOOK_SECRET",
        "",
        "the secret the provider signs webhooks with (empty: the fake makes one up)",
    )
    payment_timeout_s: float = setting(
        "PAYMENT_TIMEOUT_S", 10.0, "seconds > 0 to wait for the payment provider's answer"
    )
    refund_interval_s: float = setting(
        "BOOKINGS_REFUND_INTERVAL_S", 1.0, "seconds > 0 between refund worker rounds"
    )
    refund_batch_size: int = setting(
        "BOOKINGS_REFUND_BATCH_SIZE", 50, "due refunds (> 0) one worker round claims"
    )
    refund_max_attempts: int = setting(
        "BOOKINGS_REFUND_MAX_ATTEMPTS", 8, "failed provider calls (> 0) before a refund fails"
    )
    refund_retry_base_s: float = setting(
        "BOOKINGS_REFUND_RETRY_BASE_S",
        5.0,
        "seconds >= 0 before the first retry of a refund; doubles per attempt, at most 1 h",
    )
    refund_pending_recheck_s: float = setting(
        "BOOKINGS_REFUND_PENDING_RECHECK_S",
        600.0,
        "seconds > 0 before asking again about a refund the provider still has pending",
    )

    event_cancel_interval_s: float = setting(
        "BOOKINGS_EVENT_CANCEL_INTERVAL_S",
        1.0,
        "seconds > 0 between looks for cancelled events that still have bookings",
    )
    event_cancel_batch_size: int = setting(
        "BOOKINGS_EVENT_CANCEL_BATCH_SIZE",
        500,
        "bookings (> 0) of a cancelled event one transaction cancels",
    )

    @staticmethod
    def check_lock_timeout_ms(value: int) -> str | None:
        return None if value > 0 else "expected milliseconds > 0"

    @staticmethod
    def check_hold_batch_max(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_confirm_batch_max(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_idempotency_ttl_s(value: int) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_expiry_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_expiry_batch_size(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_publish_interval_s(value: float) -> str | None:
        return None if value >= 0 else "expected seconds >= 0"

    @staticmethod
    def check_reconcile_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_sse_heartbeat_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_sse_max_subscribers(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_ticket_issue_quiet_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_ticket_issue_max_delay_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_ticket_issue_batch_size(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_inventory_gauge_events(value: int) -> str | None:
        return None if value >= 0 else "expected an integer >= 0"

    @staticmethod
    def check_payment_provider(value: str) -> str | None:
        return None if value == "fake" else "expected fake (the only provider so far)"

    @staticmethod
    def check_payment_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_refund_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_refund_batch_size(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_refund_max_attempts(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @staticmethod
    def check_refund_retry_base_s(value: float) -> str | None:
        return None if value >= 0 else "expected seconds >= 0"

    @staticmethod
    def check_refund_pending_recheck_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_event_cancel_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_event_cancel_batch_size(value: int) -> str | None:
        return None if value > 0 else "expected an integer > 0"

    @property
    def effective_admission_keys_url(self) -> str:
        return self.admission_keys_url or (
            self.waiting_room_url.rstrip("/") + "/.well-known/admission-keys.json"
        )

    @staticmethod
    def check_admission_refresh_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_verified_email_refresh_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"
