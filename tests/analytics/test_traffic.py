"""Traffic analytics come from a real Prometheus scraping a real running service."""

from __future__ import annotations

import math
import socket

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


async def test_traffic_reports_what_prometheus_itself_computes(
    aiohttp_server, aiohttp_client, make_analytics_app, prometheus, tokens
):
    server = await aiohttp_server(make_analytics_app(PROMETHEUS_URL=prometheus.url))
    client = await aiohttp_client(server)
    failing = await aiohttp_client(make_analytics_app())  # no PROMETHEUS_URL: answers 503
    await prometheus.scrape({"analytics": [f"127.0.0.1:{server.port}"]})
    await prometheus.wait_for('up{job="analytics"}', lambda v: v == 1, what="first scrape")
    unavailable = (
        f'sum(evently_http_requests_total{{service="analytics",route="{TRAFFIC}",status="503"}})'
    )
    before = await prometheus.value(unavailable) or 0.0

    for _ in range(40):
        assert (
            await client.get("/api/v1/admin/analytics/overview", headers=tokens.admin())
        ).status == 200
    for _ in range(8):
        assert (await failing.get(TRAFFIC, headers=tokens.admin())).status == 503
    for _ in range(5):
        missing = await client.get("/api/v1/admin/analytics/events/99999", headers=tokens.admin())
        assert missing.status == 404
    await prometheus.wait_for(unavailable, lambda v: (v or 0) >= before + 8, what="traffic scraped")
    # Evaluate at the newest scrape Prometheus has stored, so later scrapes cannot differ.
    at = await prometheus.value('timestamp(up{job="analytics"})')

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
    lag = await prometheus.query("max by (source, consumer) (evently_outbox_lag_seconds)", at)
    for item in lag:
        source, consumer = item["metric"]["source"], item["metric"]["consumer"]
        assert services[source]["outbox"][consumer]["lag_seconds"] == float(item["value"][1])
