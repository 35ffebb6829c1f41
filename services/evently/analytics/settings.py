"""Settings for the analytics service."""

from __future__ import annotations

from evently.core.settings import CommonSettings, setting


class AnalyticsSettings(CommonSettings):
    """Everything the analytics service reads from the environment."""

    prometheus_url: str = setting(
        "PROMETHEUS_URL",
        "",
        "the Prometheus base URL (http://prometheus:9090); empty disables traffic analytics",
    )
    prometheus_timeout_s: float = setting(
        "PROMETHEUS_TIMEOUT_S", 3.0, "seconds to wait for one Prometheus query (> 0)"
    )

    @staticmethod
    def check_prometheus_url(value: str) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            return "expected an http:// or https:// URL, or empty"
        return None

    @staticmethod
    def check_prometheus_timeout_s(value: float) -> str | None:
        return None if value > 0 else "expected seconds > 0"
