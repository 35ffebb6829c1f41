"""Traffic analytics read from Prometheus's HTTP API (``PROMETHEUS_URL``).

Every figure is one instant PromQL query, all evaluated at the same instant, so a
caller (or a test) can ask Prometheus the same query at ``evaluated_at`` and get the
same number. Without ``PROMETHEUS_URL``, or with Prometheus unreachable, slow or
failing, ``PrometheusUnavailable`` (503 ``prometheus_unavailable``) is raised.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from evently.core.errors import ServiceUnavailable
from evently.services import SERVICE_NAMES

WINDOW_PATTERN = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
WINDOW_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_WINDOW_S = 10
MAX_WINDOW_S = 7 * 86400

# PromQL per figure; {window} is the range, e.g. 15m. docs/metrics.md documents each metric.
TRAFFIC_QUERIES: dict[str, str] = {
    "request_rate": "sum by (service) (rate(evently_http_requests_total[{window}]))",
    "error_rate": (
        'sum by (service) (rate(evently_http_requests_total{{status=~"5.."}}[{window}]))'
    ),
    "latency_p95": (
        "histogram_quantile(0.95, sum by (service, le) "
        "(rate(evently_http_request_duration_seconds_bucket[{window}])))"
    ),
    "latency_p99": (
        "histogram_quantile(0.99, sum by (service, le) "
        "(rate(evently_http_request_duration_seconds_bucket[{window}])))"
    ),
    "booking_outcomes": "sum by (outcome) (rate(evently_bookings_total[{window}]))",
    "lock_wait_p99": (
        "histogram_quantile(0.99, sum by (le) "
        "(rate(evently_bookings_lock_wait_seconds_bucket[{window}])))"
    ),
    "outbox_lag": "max by (source, consumer) (evently_outbox_lag_seconds)",
    "outbox_lag_max": (
        "max by (source, consumer) (max_over_time(evently_outbox_lag_seconds[{window}]))"
    ),
    "outbox_pending": "max by (source, consumer) (evently_outbox_pending_messages)",
}


class PrometheusUnavailable(ServiceUnavailable):
    code = "prometheus_unavailable"
    title = "Prometheus unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail + " Sales analytics are unaffected.", headers={"Retry-After": "5"})


def window_seconds(window: str) -> int | None:
    """Seconds in a window like ``15m``; None if it is not ``<n>s|m|h|d``."""
    match = WINDOW_PATTERN.match(window)
    if match is None:
        return None
    return int(match[1]) * WINDOW_UNITS_S[match[2]]


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float | None


class PrometheusClient:
    """Instant queries against one Prometheus server, each bounded by ``timeout_s``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout_s: float) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def instant(self, query: str, at: float) -> list[Sample]:
        """The vector ``query`` evaluates to at Unix time ``at``."""
        url = f"{self.base_url}/api/v1/query"
        try:
            async with self.session.post(
                url, data={"query": query, "time": f"{at:.3f}"}, timeout=self.timeout
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self.base_url} did not answer ({type(exc).__name__})."
            ) from exc
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise PrometheusUnavailable(
                f"Prometheus at {self.base_url} answered {status}: {error or 'no result'}."
            )
        data = body["data"]
        if data.get("resultType") != "vector":
            raise PrometheusUnavailable(f"Prometheus returned a {data.get('resultType')}.")
        return [
            Sample(item.get("metric", {}), parse_value(item["value"][1])) for item in data["result"]
        ]


def parse_value(raw: str) -> float | None:
    """A Prometheus sample value; NaN (e.g. a quantile of no requests) becomes None."""
    value = float(raw)
    return None if math.isnan(value) else value


def _service_entry() -> dict[str, Any]:
    return {
        "request_rate": None,
        "error_rate": None,
        "error_ratio": None,
        "latency_p95_seconds": None,
        "latency_p99_seconds": None,
        "outbox": {},
    }


async def traffic_report(
    client: PrometheusClient, window: str, at: datetime | None = None
) -> dict[str, Any]:
    """Per service: request and error rates (per second), p95/p99 latency, outbox lag;
    for bookings also outcomes per second and lock-wait p99. All at one instant."""
    evaluated_at = (at or datetime.now(UTC)).timestamp()
    evaluated_at = round(evaluated_at, 3)
    queries = {name: q.format(window=window) for name, q in TRAFFIC_QUERIES.items()}
    results = await asyncio.gather(*(client.instant(q, evaluated_at) for q in queries.values()))
    vectors = dict(zip(queries, results, strict=True))

    services: dict[str, dict[str, Any]] = {name: _service_entry() for name in SERVICE_NAMES}

    def entry(name: str) -> dict[str, Any]:
        return services.setdefault(name, _service_entry())

    for sample in vectors["request_rate"]:
        figures = entry(sample.labels.get("service", "unknown"))
        figures["request_rate"] = sample.value
        figures["error_rate"] = 0.0  # no 5xx series in the window means no errors
    for sample in vectors["error_rate"]:
        entry(sample.labels.get("service", "unknown"))["error_rate"] = sample.value
    for name in ("latency_p95", "latency_p99"):
        for sample in vectors[name]:
            entry(sample.labels.get("service", "unknown"))[f"{name}_seconds"] = sample.value
    for figures in services.values():
        if figures["request_rate"] and figures["error_rate"] is not None:
            figures["error_ratio"] = round(figures["error_rate"] / figures["request_rate"], 6)
    bookings = entry("bookings")
    bookings["booking_outcomes_per_second"] = {
        s.labels.get("outcome", "unknown"): s.value for s in vectors["booking_outcomes"]
    }
    lock_wait = vectors["lock_wait_p99"]
    bookings["lock_wait_p99_seconds"] = lock_wait[0].value if lock_wait else None
    for kind, field in (
        ("outbox_lag", "lag_seconds"),
        ("outbox_lag_max", "max_lag_seconds"),
        ("outbox_pending", "pending_messages"),
    ):
        for sample in vectors[kind]:
            outbox = entry(sample.labels.get("source", "unknown"))["outbox"]
            consumer = outbox.setdefault(sample.labels.get("consumer", "unknown"), {})
            consumer[field] = sample.value
    return {
        "window": window,
        "evaluated_at": datetime.fromtimestamp(evaluated_at, UTC),
        "evaluated_at_unix": evaluated_at,
        "services": services,
        "queries": queries,
    }
