"""/metrics is valid Prometheus text and labels requests by route template."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def request_count(text: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "evently_http_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


async def test_metrics_show_a_request_just_made_by_route_template(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    before = await (await client.get("/metrics")).text()
    labels = {"service": "users", "method": "GET", "route": "/api/v1/probes/{id}", "status": "200"}
    assert (await client.get("/api/v1/probes/7")).status == 200
    assert (await client.get("/api/v1/probes/8")).status == 200
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    after = await response.text()
    assert request_count(after, **labels) - request_count(before, **labels) == 2
    assert 'route="/api/v1/probes/7"' not in after


async def test_unmatched_paths_share_one_label(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    await client.get("/random/path/1")
    await client.get("/random/path/2")
    text = await (await client.get("/metrics")).text()
    assert request_count(text, service="users", route="unmatched", status="404") >= 2
    assert "/random/path" not in text


async def test_latency_histogram_is_exported(aiohttp_client, make_probe_app):
    client = await aiohttp_client(make_probe_app())
    await client.get("/api/v1/probes/1")
    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    histogram = families["evently_http_request_duration_seconds"]
    assert histogram.type == "histogram"
    assert any(
        s.labels.get("route") == "/api/v1/probes/{id}" and s.name.endswith("_count")
        for s in histogram.samples
    )
