"""Prometheus metrics of the users service (documented in docs/users.md, "Metrics")."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LOGINS = Counter(
    "evently_users_logins_total",
    "Login attempts by kind (customer|admin) and outcome "
    "(success|invalid_credentials|rate_limited|deactivated).",
    ["kind", "outcome"],
)
REFRESHES = Counter(
    "evently_users_token_refreshes_total",
    "Refresh-token exchanges by outcome (rotated|reused|revoked|expired|unknown).",
    ["outcome"],
)
REGISTRATIONS = Counter(
    "evently_users_registrations_total",
    "Accounts created, by role (customer|admin).",
    ["role"],
)
BCRYPT_SECONDS = Histogram(
    "evently_users_bcrypt_seconds",
    "Time spent in bcrypt, by operation (hash|check); tune BCRYPT_ROUNDS with it.",
    ["operation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
)
