"""One code, one title: whichever service answers, a problem reads the same."""

from __future__ import annotations


async def test_event_not_found_has_one_title_in_every_service(
    service_client, admin_headers
) -> None:
    answers = []
    events = await service_client("events")
    answers.append(await events.get("/api/v1/events/999999"))
    bookings = await service_client("bookings")
    answers.append(await bookings.get("/api/v1/events/999999/availability/stream"))
    analytics = await service_client("analytics")
    answers.append(
        await analytics.get("/api/v1/admin/analytics/events/999999", headers=admin_headers)
    )
    problems = [await answer.json() for answer in answers]
    assert [p["code"] for p in problems] == ["event_not_found"] * 3
    assert {p["title"] for p in problems} == {"Event not found"}
