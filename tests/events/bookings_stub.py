"""A stand-in for the bookings service's internal availability API.

The real bookings service is being built in parallel; until it lands on main, tests
that need bookings to report sold and held seats use this stub, which serves exactly
the contract in the brief: ``GET /internal/events/{id}/availability`` with the internal
key, answering the figures a test set, or a 404 problem for events it does not know.
Tests that only need "bookings knows nothing yet" use the real bookings app instead.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


class BookingsContractStub:
    """Serves availability figures a test sets with ``set_figures``; records requests."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.figures: dict[int, dict[str, Any]] = {}
        self.requests: list[int] = []
        self.fail_with: int | None = None
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def set_figures(self, event_id: int, capacity: int, sold: int, held: int, **extra: Any):
        available = max(capacity - sold - held, 0)
        self.figures[event_id] = {
            "event_id": event_id,
            "capacity": capacity,
            "sold": sold,
            "held": held,
            "available": available,
            "on_sale": True,
            "sold_out": available == 0,
            "waitlisted": 0,
            "status": "published",
            **extra,
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/internal/events/{id}/availability", self._availability)
        return app

    async def _availability(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Internal-Key") != self.api_key:
            return web.json_response({"status": 401, "code": "internal_key_required"}, status=401)
        event_id = int(request.match_info["id"])
        self.requests.append(event_id)
        if self.fail_with is not None:
            return web.json_response({"status": self.fail_with}, status=self.fail_with)
        figures = self.figures.get(event_id)
        if figures is None:
            return web.json_response(
                {"status": 404, "code": "event_not_found", "title": "Not found"},
                status=404,
                content_type="application/problem+json",
            )
        return web.json_response(figures)
