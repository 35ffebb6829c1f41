"""Prometheus metrics shared by every service: HTTP traffic and the /metrics endpoint.

Naming follows docs/metrics.md: prefix ``evently_``, units in names, bounded labels.
The route label is the route *template* (``/api/v1/events/{id}``), never the raw path;
unmatched paths are labelled ``unmatched`` so scanners cannot blow up cardinality.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "evently_http_requests_total",
    "HTTP requests answered, by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "evently_http_request_duration_seconds",
    "HTTP request latency in seconds, by service, method and route template.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Counter(
    "evently_http_requests_started_total",
    "HTTP requests started, by service (in flight = started - answered).",
    ["service"],
)


@functools.lru_cache(maxsize=4096)
def labelled(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, remembered: a label set's child never changes, and
    ``labels`` checks and locks on every call (two calls per request)."""
    return metric.labels(*values)


def route_template(request: web.Request) -> str:
    """The matched route's template, or ``unmatched``."""
    match_info = request.match_info
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or getattr(match_info, "http_exception", None) is not None:
        return "unmatched"
    return resource.canonical


async def metrics_handler(request: web.Request) -> web.Response:
    """Serve the process's metrics in the Prometheus text format."""
    body = generate_latest(REGISTRY)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
