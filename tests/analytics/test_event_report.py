"""One event's report: the sales timeline, the alias route and parameter errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evently.analytics.event_report import TimelineRange
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings, event_changed

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def seed_timeline(client) -> None:
    """Minute by minute from T0: holds, confirmations, a cancellation and an expiry."""
    shop = ScriptedBookings(61, capacity=20, unit_price="49.90")
    messages = [event_changed(61, capacity=20)]
    b1, m = shop.hold(2, at=at(10))
    messages += m
    b2, m = shop.hold(1, at=at(65))
    messages += m + shop.confirm(b1, at=at(70))
    b3, m = shop.hold(3, at=at(130))
    messages += m + shop.confirm(b3, at=at(140)) + shop.cancel(b3, at=at(200))
    messages += shop.expire(b2, at=at(250))
    await deliver(client, messages)


async def get_report(client, tokens, path: str, **params) -> dict:
    response = await client.get(path, params=params, headers=tokens.admin())
    assert response.status == 200, await response.text()
    return await response.json()


async def test_timeline_in_one_minute_buckets(analytics, tokens):
    await seed_timeline(analytics)

    report = await get_report(
        analytics,
        tokens,
        "/api/v1/admin/analytics/events/61",
        bucket="1m",
        **{"from": T0.isoformat(), "to": at(300).isoformat()},
    )

    points = report["timeline"]["points"]
    assert [p["start"] for p in points] == [
        at(60 * i).isoformat().replace("+00:00", "Z") for i in range(5)
    ]
    rows = [
        (p["holds"], p["confirmed"], p["tickets_sold"], p["cancelled"], p["expired"])
        for p in points
    ]
    assert rows == [
        (1, 0, 0, 0, 0),
        (1, 1, 2, 0, 0),
        (1, 1, 3, 0, 0),
        (0, 0, 0, 1, 0),
        (0, 0, 0, 0, 1),
    ]
    assert [p["revenue_by_currency"] for p in points[:3]] == [
        {},
        {"EUR": "99.80"},
        {"EUR": "149.70"},
    ]
    assert points[2]["tickets_per_minute"] == 3.0


async def test_timeline_in_five_minute_buckets_sums_the_minutes(analytics, tokens):
    await seed_timeline(analytics)

    report = await get_report(
        analytics,
        tokens,
        "/api/v1/admin/analytics/events/61",
        bucket="5m",
        **{"from": T0.isoformat(), "to": at(300).isoformat()},
    )

    (point,) = report["timeline"]["points"]
    assert (point["holds"], point["confirmed"], point["tickets_sold"]) == (3, 2, 5)
    assert (point["cancelled"], point["expired"], point["tickets_per_minute"]) == (1, 1, 1.0)
    assert point["revenue_by_currency"] == {"EUR": "249.50"}


async def test_default_timeline_runs_from_the_first_booking_to_now_within_the_limit(
    analytics, tokens
):
    await seed_timeline(analytics)

    report = await get_report(analytics, tokens, "/api/v1/admin/analytics/events/61")

    timeline = report["timeline"]
    assert timeline["bucket"] == "1h"
    assert timeline["to"] == report["as_of"]
    assert 1 <= len(timeline["points"]) <= 1440
    assert sum(p["holds"] for p in timeline["points"]) <= 3


async def test_the_admin_events_alias_answers_the_same_report(analytics, tokens):
    await seed_timeline(analytics)
    params = {"bucket": "5m", "from": T0.isoformat(), "to": at(600).isoformat()}

    main = await get_report(analytics, tokens, "/api/v1/admin/analytics/events/61", **params)
    alias = await get_report(analytics, tokens, "/api/v1/admin/events/61/analytics", **params)

    main.pop("as_of")
    alias.pop("as_of")
    assert alias == main
    assert main["bookings"]["holds_placed"] == 3


async def test_an_unknown_event_is_404(analytics, tokens):
    response = await analytics.get("/api/v1/admin/analytics/events/999", headers=tokens.admin())
    assert response.status == 404
    assert (await response.json())["code"] == "event_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "2m"}, "query.bucket"),
        ({"from": "yesterday"}, "query.from"),
        ({"from": "2025-03-01T10:00:00"}, "query.from"),
        ({"from": "2025-03-01T10:05:00Z", "to": "2025-03-01T10:00:00Z"}, "query.from"),
        (
            {"bucket": "1m", "from": "2025-03-01T00:00:00Z", "to": "2025-03-03T00:00:00Z"},
            "query.bucket",
        ),
        ({"top": "3"}, "query.top"),
    ],
)
async def test_bad_report_parameters_are_400_naming_the_parameter(analytics, tokens, params, field):
    await seed_timeline(analytics)

    response = await analytics.get(
        "/api/v1/admin/analytics/events/61", params=params, headers=tokens.admin()
    )

    assert response.status == 400, await response.text()
    problem = await response.json()
    assert field in [e["field"] for e in problem["errors"]]


async def test_both_report_paths_are_documented_with_distinct_operation_ids(analytics):
    document = await (await analytics.get("/openapi.json")).json()
    main = document["paths"]["/api/v1/admin/analytics/events/{id}"]["get"]
    alias = document["paths"]["/api/v1/admin/events/{id}/analytics"]["get"]
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]

    assert len(operation_ids) == len(set(operation_ids))
    assert main["operationId"] != alias["operationId"]
    assert main["parameters"] == alias["parameters"]


@pytest.mark.timeout(60)
async def test_a_range_of_centuries_is_refused_without_building_it(analytics, tokens):
    # The finding's request froze the process for 16 minutes: the timeline was built
    # before its size was checked. Unfixed, this test hangs until its timeout.
    await seed_timeline(analytics)
    response = await analytics.get(
        "/api/v1/admin/events/61/analytics",
        params={"from": "2027-01-17T22:30:00Z", "bucket": "1m", "to": "3054-08-25T00:15:50Z"},
        headers=tokens.admin(),
    )
    assert response.status == 400, await response.text()
    assert "query.bucket" in [e["field"] for e in (await response.json())["errors"]]


@pytest.mark.parametrize("bucket", ["1m", "5m", "1h"])
@pytest.mark.parametrize("minutes", [0, 1, 59, 60, 61, 1439, 1440, 10_000])
def test_point_count_matches_the_buckets_it_would_build(bucket, minutes):
    start = T0 + timedelta(seconds=17)
    timeline = TimelineRange(bucket, start, start + timedelta(minutes=minutes, seconds=1))
    assert timeline.point_count == len(timeline.bucket_starts())
