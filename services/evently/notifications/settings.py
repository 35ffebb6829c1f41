"""Settings for the notifications service (docs/notifications.md lists every variable)."""

from __future__ import annotations

from typing import Literal

from evently.core.settings import CommonSettings, setting


class NotificationsSettings(CommonSettings):
    """Everything the notifications service reads from the environment."""

    mail_transport: Literal["smtp", "console", "directory"] = setting(
        "MAIL_TRANSPORT",
        "smtp",
        "smtp (a mail server), console (print each mail) or directory (write .eml files)",
    )
    mail_directory: str = setting(
        "MAIL_DIRECTORY", "", "the folder MAIL_TRANSPORT=directory writes .eml files to"
    )
    mail_from: str = setting(
        "MAIL_FROM", "Evently <no-reply@evently.local>", "the From address of every mail"
    )
    smtp_host: str = setting("SMTP_HOST", "localhost", "the SMTP server's host name")
    smtp_port: int = setting("SMTP_PORT", 587, "the SMTP server's port (1-65535)")
    smtp_tls: Literal["starttls", "tls", "none"] = setting(
        "SMTP_TLS",
        "starttls",
        "starttls (upgrade a plain connection), tls (implicit TLS, port 465) or none",
    )
    smtp_username: str = setting("SMTP_USERNAME", "", "the SMTP login; empty: no login")
    smtp_password: str = setting("SMTP_PASSWORD", "", "the SMTP password")
    smtp_timeout_s: float = setting("SMTP_TIMEOUT_S", 10.0, "seconds > 0 for one SMTP exchange")
    public_base_url: str = setting(
        "PUBLIC_BASE_URL",
        "http://127.0.0.1:8080",
        "the public URL links in mails start with (https://tickets.example.com)",
    )
    mail_poll_interval_s: float = setting(
        "MAIL_POLL_INTERVAL_S", 1.0, "seconds > 0 between looks at the mail queue"
    )
    mail_batch_size: int = setting("MAIL_BATCH_SIZE", 20, "mails sent per SMTP connection (>= 1)")
    mail_max_backoff_s: float = setting(
        "MAIL_MAX_BACKOFF_S", 300.0, "seconds > 0: the longest wait before retrying a mail"
    )
    hold_reminder_interval_s: float = setting(
        "HOLD_REMINDER_INTERVAL_S", 5.0, "seconds > 0 between looks for due hold reminders"
    )
    hold_reminder_batch_size: int = setting(
        "HOLD_REMINDER_BATCH_SIZE", 200, "due hold reminders one round handles (>= 1)"
    )
    stream_heartbeat_s: float = setting(
        "NOTIFICATIONS_STREAM_HEARTBEAT_S", 15.0, "seconds > 0 between stream heartbeats"
    )
    stream_max_subscribers: int = setting(
        "NOTIFICATIONS_STREAM_MAX_SUBSCRIBERS", 5000, "open streams per process (>= 1)"
    )

    @staticmethod
    def check_smtp_port(value: int) -> str | None:
        return None if 1 <= value <= 65535 else "expected a TCP port (1-65535)"

    @staticmethod
    def check_public_base_url(value: str) -> str | None:
        if not value.startswith(("http://", "https://")):
            return "expected an http:// or https:// URL"
        return None

    @staticmethod
    def check_smtp_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_mail_poll_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_mail_batch_size(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_mail_max_backoff_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_hold_reminder_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_hold_reminder_batch_size(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_stream_heartbeat_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"

    @staticmethod
    def check_stream_max_subscribers(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"
