"""Settings for the users service (see docs/users.md for every variable)."""

from __future__ import annotations

from typing import Any

from evently.core.settings import OutboxRelaySettings, SettingsError, setting


class UsersSettings(OutboxRelaySettings):
    """Everything the users service reads from the environment."""

    bcrypt_rounds: int = setting("BCRYPT_ROUNDS", 12, "the bcrypt cost, an integer from 4 to 31")
    access_token_ttl_s: int = setting(
        "ACCESS_TOKEN_TTL_S", 900, "access token lifetime in seconds (30 to 86400)"
    )
    refresh_token_ttl_s: int = setting(
        "REFRESH_TOKEN_TTL_S", 604_800, "refresh token lifetime in seconds (longer than access)"
    )
    # Signing keys: exactly one of these two (see docs/auth.md, "Signing keys"); they
    # are loaded and checked by keys.load_keyring when the app is built.
    jwt_signing_keys: str = setting(
        "JWT_SIGNING_KEYS", "", 'a JSON object {"<kid>": "<Ed25519 private key PEM>", ...}'
    )
    jwt_signing_keys_dir: str = setting(
        "JWT_SIGNING_KEYS_DIR", "", "a directory holding one <kid>.pem Ed25519 private key each"
    )
    jwt_active_kid: str = setting(
        "JWT_ACTIVE_KID", "", "the kid that signs new tokens (required with several keys)"
    )
    login_account_max_attempts: int = setting(
        "LOGIN_ACCOUNT_MAX_ATTEMPTS", 10, "failed logins allowed per account per window (>= 1)"
    )
    login_account_window_s: int = setting(
        "LOGIN_ACCOUNT_WINDOW_S", 900, "the per-account login window in seconds (>= 1)"
    )
    login_address_max_attempts: int = setting(
        "LOGIN_ADDRESS_MAX_ATTEMPTS", 100, "failed logins allowed per client address per window"
    )
    login_address_window_s: int = setting(
        "LOGIN_ADDRESS_WINDOW_S", 900, "the per-address login window in seconds (>= 1)"
    )
    register_address_max_attempts: int = setting(
        "REGISTER_ADDRESS_MAX_ATTEMPTS",
        20,
        "registrations allowed per client address per window (>= 1)",
    )
    register_address_window_s: int = setting(
        "REGISTER_ADDRESS_WINDOW_S", 3600, "the per-address registration window in seconds"
    )
    password_reset_ttl_s: int = setting(
        "PASSWORD_RESET_TTL_S", 3600, "seconds a password reset link works (60 to 86400)"
    )
    email_verification_ttl_s: int = setting(
        "EMAIL_VERIFICATION_TTL_S",
        172_800,
        "seconds an email verification link works (60 to 30 days)",
    )
    account_mail_max_per_email: int = setting(
        "ACCOUNT_MAIL_MAX_PER_EMAIL",
        5,
        "password reset or verification mails per email (or account) per window (>= 1)",
    )
    account_mail_max_per_address: int = setting(
        "ACCOUNT_MAIL_MAX_PER_ADDRESS",
        20,
        "password reset requests per client address per window (>= 1)",
    )
    account_mail_window_s: int = setting(
        "ACCOUNT_MAIL_WINDOW_S", 3600, "the account mail throttle's window in seconds (>= 1)"
    )
    housekeeping_interval_s: float = setting(
        "USERS_HOUSEKEEPING_INTERVAL_S", 300.0, "seconds between purges of stale rows (> 0)"
    )

    def model_post_init(self, context: Any, /) -> None:
        """Rules between fields, once each field is valid."""
        problems = []
        if self.refresh_token_ttl_s <= self.access_token_ttl_s:
            problems.append(
                "REFRESH_TOKEN_TTL_S must be longer than ACCESS_TOKEN_TTL_S "
                f"({self.refresh_token_ttl_s} <= {self.access_token_ttl_s})"
            )
        if problems:
            raise SettingsError(problems)

    @staticmethod
    def check_bcrypt_rounds(value: int) -> str | None:
        return None if 4 <= value <= 31 else "expected an integer from 4 to 31"

    @staticmethod
    def check_access_token_ttl_s(value: int) -> str | None:
        return None if 30 <= value <= 86_400 else "expected seconds from 30 to 86400"

    @staticmethod
    def check_refresh_token_ttl_s(value: int) -> str | None:
        return None if 60 <= value <= 90 * 86_400 else "expected seconds from 60 to 90 days"

    @staticmethod
    def check_login_account_max_attempts(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_login_account_window_s(value: int) -> str | None:
        return None if value >= 1 else "expected seconds >= 1"

    @staticmethod
    def check_login_address_max_attempts(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_login_address_window_s(value: int) -> str | None:
        return None if value >= 1 else "expected seconds >= 1"

    @staticmethod
    def check_register_address_max_attempts(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_register_address_window_s(value: int) -> str | None:
        return None if value >= 1 else "expected seconds >= 1"

    @staticmethod
    def check_password_reset_ttl_s(value: int) -> str | None:
        return None if 60 <= value <= 86_400 else "expected seconds from 60 to 86400"

    @staticmethod
    def check_email_verification_ttl_s(value: int) -> str | None:
        return None if 60 <= value <= 30 * 86_400 else "expected seconds from 60 to 30 days"

    @staticmethod
    def check_account_mail_max_per_email(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_account_mail_max_per_address(value: int) -> str | None:
        return None if value >= 1 else "expected an integer >= 1"

    @staticmethod
    def check_account_mail_window_s(value: int) -> str | None:
        return None if value >= 1 else "expected seconds >= 1"

    @staticmethod
    def check_housekeeping_interval_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"
