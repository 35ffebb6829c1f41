"""HTTP routes of the analytics service: thin handlers over the domain functions.

Sales figures come from analytics' own facts (fed by the outbox through
``/internal/inbox``); traffic figures come from Prometheus.
"""

from __future__ import annotations

from aiohttp import web

from evently.analytics.event_report import event_report
from evently.analytics.facts import INBOX_HANDLERS
from evently.analytics.models import (
    EventReport,
    EventReportQuery,
    Overview,
    OverviewQuery,
    Traffic,
    TrafficQuery,
)
from evently.analytics.overview import sales_overview
from evently.analytics.traffic import PrometheusClient, PrometheusUnavailable, traffic_report
from evently.analytics.waiting_room_report import fetch_room_report
from evently.core.api import Api, json_response
from evently.core.app import SETTINGS
from evently.core.auth import require_admin
from evently.core.clients import HTTP_SESSION, InternalClient
from evently.core.db import POOL
from evently.core.inbox import add_inbox_route
from evently.waiting_room.report_models import FairnessReport

api = Api("analytics")
admin = require_admin("analytics:read")

add_inbox_route(api, "analytics", INBOX_HANDLERS)


@api.get(
    "/api/v1/admin/analytics/overview",
    summary="Sales overview: events on sale, tickets sold, revenue, top events, recent bookings",
    query=OverviewQuery,
    response=Overview,
    auth=admin,
)
async def get_overview(request: web.Request, query: OverviewQuery) -> web.Response:
    figures = await sales_overview(request.app[POOL], query.top)
    return json_response(Overview.model_validate(figures))


@api.get(
    "/api/v1/admin/events/{id}/analytics",
    summary="One event's sales analytics (alias of /api/v1/admin/analytics/events/{id})",
    query=EventReportQuery,
    response=EventReport,
    auth=admin,
    path_params={"id": int},
    errors=(404,),
)
@api.get(
    "/api/v1/admin/analytics/events/{id}",
    summary="One event's sales analytics: seats, revenue, conversion, waitlist, timeline",
    query=EventReportQuery,
    response=EventReport,
    auth=admin,
    path_params={"id": int},
    errors=(404,),
)
async def get_event_report(request: web.Request, id: int, query: EventReportQuery) -> web.Response:
    report = await event_report(request.app[POOL], id, query.bucket, query.from_, query.to)
    return json_response(EventReport.model_validate(report))


@api.get(
    "/api/v1/admin/analytics/traffic",
    summary="Traffic per service from Prometheus: rates, errors, latency, bookings, outbox lag",
    query=TrafficQuery,
    response=Traffic,
    auth=admin,
    errors=(503,),
)
async def get_traffic(request: web.Request, query: TrafficQuery) -> web.Response:
    settings = request.app[SETTINGS]
    if not settings.prometheus_url:
        raise PrometheusUnavailable("Traffic analytics need PROMETHEUS_URL, which is not set.")
    client = PrometheusClient(
        request.app[HTTP_SESSION], settings.prometheus_url, settings.prometheus_timeout_s
    )
    report = await traffic_report(client, query.window, query.at)
    return json_response(Traffic.model_validate(report))


@api.get(
    "/api/v1/admin/analytics/events/{id}/waiting-room",
    summary="One event's waiting room fairness report (from the waiting room service)",
    description="The waiting room's own report (GET /api/v1/admin/events/{id}/waiting-room/"
    "report), fetched from its internal API: order, FIFO fidelity, seed, admission rate, "
    "waits, abandoned tickets, refusals.",
    response=FairnessReport,
    auth=admin,
    path_params={"id": int},
    errors=(404, 503),
)
async def get_waiting_room_report(request: web.Request, id: int) -> web.Response:
    settings = request.app[SETTINGS]
    room = InternalClient(
        request.app[HTTP_SESSION],
        settings.waiting_room_url,
        settings.internal_api_key,
        "waiting_room",
    )
    return json_response(await fetch_room_report(room, id))
