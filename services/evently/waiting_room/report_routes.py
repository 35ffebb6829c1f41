"""The fairness report's routes: public to admins, and internal for analytics."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import Api, json_response
from evently.core.auth import require_admin, require_internal
from evently.waiting_room.context import WAITING_ROOM
from evently.waiting_room.report import fairness_report
from evently.waiting_room.report_models import FairnessReport

ID = {"id": int}
DESCRIPTION = (
    "Arrival vs admission order, FIFO fidelity of the winners, the shuffle's seed and "
    "pre-queue (to re-run it), admission rate achieved vs configured, waiting times, "
    "abandoned tickets and refusals; definitions in docs/waiting-room.md."
)


async def _report(request: web.Request, id: int) -> web.Response:
    return json_response(await fairness_report(request.app[WAITING_ROOM].pool, id))


def add_report_routes(api: Api) -> None:
    """Declare the report on ``api``: the admin route and analytics' internal one."""
    api.get(
        "/api/v1/admin/events/{id}/waiting-room/report",
        summary="A room's fairness report",
        description=DESCRIPTION,
        response=FairnessReport,
        auth=require_admin("analytics:read"),
        path_params=ID,
        errors=(404,),
    )(_report)
    api.get(
        "/internal/events/{id}/waiting-room/report",
        summary="A room's fairness report (for analytics)",
        description=DESCRIPTION,
        response=FairnessReport,
        auth=require_internal,
        path_params=ID,
        errors=(404,),
    )(_report)
