"""Traffic analytics come from a real Prometheus scraping a real running service."""

from __future__ import annotations

import math
import socket
import time
import uuid

from evently.core.auth import AUTHENTICATOR
from tests.analytics.conftest import deliver
from tests.analytics.contract import event_changed
from tests.support.prometheus import free_port

TRAFFIC = "/api/v1/admin/analytics/traffic"
WINDOW = "30s"


async def test_traffic_without_prometheus_url_is_503_and_sales_still_work(analytics, tokens):
    traffic = await analytics.get(TRAFFIC, headers=tokens.admin())
    overview = await analytics.get("/api/v1/admin/analytics/overview", headers=tokens.admin())

    assert traffic.status == 503
    problem = await traffic.json()
    assert problem["code"] == "prometheus_unavailable"
    assert "PROMETHEUS_URL" in problem["detail"]
    assert overview.status == 200


async def test_traffic_with_prometheus_down_is_503(aiohttp_client, make_analytics_app, tokens):
    nobody = f"http://127.0.0.1:{free_port()}"
    client = await aiohttp_client(make_analytics_app(PROMETHEUS_URL=nobody))

    response = await client.get(TRAFFIC, headers=tokens.admin())

    assert response.status == 503
    problem = await response.json()
    assert problem["code"] == "prometheus_unavailable"
    assert nobody in problem["detail"]
    assert response.headers["Retry-After"] == "5"


async def test_traffic_with_prometheus_not_answering_is_503_within_the_timeout(
    aiohttp_client, make_analytics_app, tokens
):
    # A socket that accepts connections (the kernel does) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = await aiohttp_client(
            make_analytics_app(PROMETHEUS_URL=url, PROMETHEUS_TIMEOUT_S="0.3")
        )

        response = await client.get(TRAFFIC, headers=tokens.admin())

    assert response.status == 503
    problem = await response.json()
    assert problem["code"] == "prometheus_unavailable"
    assert "TimeoutError" in problem["detail"]


async def test_a_bad_window_is_400_naming_it(analytics, tokens):
    for window in ("15", "5s", "15 minutes", "8d"):
        response = await analytics.get(TRAFFIC, params={"window": window}, headers=tokens.admin())
        assert response.status == 400, window
        assert [e["field"] for e in (await response.json())["errors"]] == ["query.window"]


def by_label(result: list[dict], label: str) -> dict[str, float | None]:
    values = {}
    for item in result:
        value = float(item["value"][1])
        values[item["metric"].get(label, "")] = None if math.isnan(value) else value
    return values


async def sell_out(bookings, tokens, event_id: int) -> None:
    """Real bookings traffic: three holds take every seat, two more buyers are refused."""
    await deliver(bookings, [event_changed(event_id, capacity=3, max_per_user=1)])
    for user, status in [(1, 201), (2, 201), (3, 201), (4, 409), (5, 409)]:
        headers = {**tokens.customer(user), "Idempotency-Key": uuid.uuid4().hex}
        body = {"event_id": event_id, "quantity": 1}
        response = await bookings.post("/api/v1/bookings", json=body, headers=headers)
        assert response.status == status, await response.text()


async def generate_traffic(client, failing, bookings, tokens, rounds: int, event_id: int) -> None:
    """``rounds`` x (5 overviews, one 503, one 404), and a sold-out event's bookings."""
    for _ in range(rounds):
        for _ in range(5):
            overview = await client.get("/api/v1/admin/analytics/overview", headers=tokens.admin())
            assert overview.status == 200
        assert (await failing.get(TRAFFIC, headers=tokens.admin())).status == 503
        missing = await client.get("/api/v1/admin/analytics/events/99999", headers=tokens.admin())
        assert missing.status == 404
    await sell_out(bookings, tokens, event_id)


async def test_traffic_reports_what_prometheus_itself_computes(
    aiohttp_server, aiohttp_client, make_app, make_analytics_app, prometheus, tokens
):
    # Prometheus scrapes one target: in this test process every app shares one metrics
    # registry (as separate pods would not), so one target exposes each series once.
    server = await aiohttp_server(make_analytics_app(PROMETHEUS_URL=prometheus.url))
    client = await aiohttp_client(server)
    failing = await aiohttp_client(make_analytics_app())  # no PROMETHEUS_URL: answers 503
    bookings_app = make_app("bookings", env={"OUTBOX_RELAY_ENABLED": "false"})
    bookings_app[AUTHENTICATOR] = tokens.authenticator()
    bookings = await aiohttp_client(bookings_app)
    # Every series exists before the measured traffic, so rates see it grow.
    await generate_traffic(client, failing, bookings, tokens, rounds=1, event_id=81)
    await prometheus.scrape({"analytics": [f"127.0.0.1:{server.port}"]})
    unavailable = (
        f'sum(evently_http_requests_total{{service="analytics",route="{TRAFFIC}",status="503"}})'
    )
    before = await prometheus.wait_for(unavailable, lambda v: v is not None, what="first scrape")

    await generate_traffic(client, failing, bookings, tokens, rounds=8, event_id=82)
    traffic_done = time.time()
    # Evaluate at a scrape Prometheus has stored, taken after all the traffic, so the
    # endpoint and this test see exactly the same samples.
    at = await prometheus.wait_for(
        'timestamp(up{job="analytics"})', lambda t: t > traffic_done, what="a later scrape"
    )

    response = await client.get(
        TRAFFIC, params={"window": WINDOW, "at": f"{at:.3f}"}, headers=tokens.admin()
    )

    assert response.status == 200, await response.text()
    report = await response.json()
    assert report["evaluated_at_unix"] == at
    assert await prometheus.value(unavailable, at) - before == 8
    services = report["services"]
    expected = {
        "request_rate": f"sum by (service) (rate(evently_http_requests_total[{WINDOW}]))",
        "error_rate": (
            f'sum by (service) (rate(evently_http_requests_total{{status=~"5.."}}[{WINDOW}]))'
        ),
        "latency_p95_seconds": (
            "histogram_quantile(0.95, sum by (service, le) "
            f"(rate(evently_http_request_duration_seconds_bucket[{WINDOW}])))"
        ),
        "latency_p99_seconds": (
            "histogram_quantile(0.99, sum by (service, le) "
            f"(rate(evently_http_request_duration_seconds_bucket[{WINDOW}])))"
        ),
    }
    for field, promql in expected.items():
        computed = by_label(await prometheus.query(promql, at), "service")
        assert computed, f"Prometheus has no {field}"
        for service, value in computed.items():
            assert services[service][field] == value, (field, service)
    analytics = services["analytics"]
    assert analytics["request_rate"] > analytics["error_rate"] > 0
    assert 0 < analytics["error_ratio"] < 1
    assert analytics["latency_p99_seconds"] >= analytics["latency_p95_seconds"] > 0

    outcomes = by_label(
        await prometheus.query(f"sum by (outcome) (rate(evently_bookings_total[{WINDOW}]))", at),
        "outcome",
    )
    assert services["bookings"]["booking_outcomes_per_second"] == outcomes
    assert outcomes["held"] > 0
    assert outcomes["sold_out"] > 0
    lock_wait = await prometheus.value(
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(evently_bookings_lock_wait_seconds_bucket[{WINDOW}])))",
        at,
    )
    assert lock_wait is not None and lock_wait > 0
    assert services["bookings"]["lock_wait_p99_seconds"] == lock_wait
    assert services["bookings"]["request_rate"] > 0
    lag = await prometheus.query("max by (source, consumer) (evently_outbox_lag_seconds)", at)
    for item in lag:
        source, consumer = item["metric"]["source"], item["metric"]["consumer"]
        assert services[source]["outbox"][consumer]["lag_seconds"] == float(item["value"][1])
