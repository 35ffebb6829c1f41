"""The sales overview: events on sale, tickets sold, revenue, top events, recent bookings."""

from __future__ import annotations

from datetime import timedelta

from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings, event_changed, now


async def seed_catalogue(client) -> None:
    """Five events: one on sale, one sold out, a draft, one closed, one not yet open."""
    t = now()
    messages = [
        event_changed(51, name="On sale", capacity=10, price="49.90"),
        event_changed(52, name="Sold out", capacity=4, price="10.00", currency="USD"),
        event_changed(53, name="Draft", status="draft", capacity=100),
        event_changed(54, name="Closed", capacity=6, sale_closes_at=t - timedelta(days=1)),
        event_changed(55, name="Later", capacity=10, sale_opens_at=t + timedelta(days=1)),
    ]
    on_sale = ScriptedBookings(51, capacity=10, unit_price="49.90")
    b, m = on_sale.hold(2)
    messages += m + on_sale.confirm(b)
    two_hours_ago = t - timedelta(hours=2)
    b, m = on_sale.hold(1, at=two_hours_ago)
    messages += m + on_sale.confirm(b, at=two_hours_ago)
    _, m = on_sale.hold(1)
    messages += m
    sold_out = ScriptedBookings(52, capacity=4, unit_price="10.00", currency="USD")
    b, m = sold_out.hold(4)
    messages += m + sold_out.confirm(b)
    closed = ScriptedBookings(54, capacity=6, unit_price="20.00")
    yesterday = t - timedelta(hours=30)
    b, m = closed.hold(1, at=yesterday)
    messages += m + closed.confirm(b, at=yesterday)
    await deliver(client, messages)


async def overview(client, tokens, **params) -> dict:
    response = await client.get(
        "/api/v1/admin/analytics/overview", params=params, headers=tokens.admin()
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_overview_totals_revenue_and_sell_through(analytics, tokens):
    await seed_catalogue(analytics)

    figures = await overview(analytics, tokens)

    assert figures["events"] == {"on_sale": 1, "published": 4, "sold_out": 1, "known": 5}
    assert figures["tickets_sold"] == 8
    assert figures["bookings_confirmed"] == 4
    assert figures["revenue_by_currency"] == {"EUR": "169.70", "USD": "40.00"}
    assert figures["sell_through"] == {"capacity": 30, "sold": 8, "rate": 0.2667}


async def test_overview_lists_top_events_by_tickets_sold(analytics, tokens):
    await seed_catalogue(analytics)

    top = (await overview(analytics, tokens, top=2))["top_events"]

    assert [(e["event_id"], e["name"], e["tickets_sold"]) for e in top] == [
        (52, "Sold out", 4),
        (51, "On sale", 3),
    ]
    assert top[0]["sell_through"] == 1.0
    assert top[0]["revenue_by_currency"] == {"USD": "40.00"}
    assert top[1]["revenue_by_currency"] == {"EUR": "149.70"}


async def test_overview_counts_bookings_of_the_last_hour_and_day(analytics, tokens):
    await seed_catalogue(analytics)

    recent = (await overview(analytics, tokens))["recent_bookings"]

    assert recent["last_hour"] == {"holds": 3, "confirmed": 2, "tickets_sold": 6}
    assert recent["last_24h"] == {"holds": 4, "confirmed": 3, "tickets_sold": 7}


async def test_overview_of_an_empty_platform_is_all_zeros(analytics, tokens):
    figures = await overview(analytics, tokens)

    assert figures["tickets_sold"] == 0
    assert figures["revenue_by_currency"] == {}
    assert figures["sell_through"]["rate"] is None
    assert figures["top_events"] == []


async def test_overview_rejects_a_bad_top_naming_it(analytics, tokens):
    response = await analytics.get(
        "/api/v1/admin/analytics/overview", params={"top": "0"}, headers=tokens.admin()
    )
    assert response.status == 400
    problem = await response.json()
    assert [e["field"] for e in problem["errors"]] == ["query.top"]


async def test_analytics_routes_need_an_admin_with_analytics_read(analytics, tokens):
    path = "/api/v1/admin/analytics/overview"
    anonymous = await analytics.get(path)
    customer = await analytics.get(path, headers=tokens.customer())
    editor = tokens.token(2, roles=("admin",), perms=("events:write",))
    no_permission = await analytics.get(path, headers={"Authorization": f"Bearer {editor}"})

    assert anonymous.status == 401
    assert customer.status == 403
    assert (await customer.json())["code"] == "admin_required"
    assert no_permission.status == 403
    assert (await no_permission.json())["permission"] == "analytics:read"


async def test_an_event_that_has_ended_is_not_on_sale(analytics, tokens):
    # The finding: published, started 2020-01-01, no sale window -> counted as on sale.
    await deliver(
        analytics,
        [
            event_changed(
                61,
                name="Long gone",
                starts_at="2020-01-01T19:00:00+00:00",
                ends_at="2020-01-01T23:00:00+00:00",
            ),
            event_changed(
                62, name="Started, no end", starts_at="2020-01-01T19:00:00+00:00", ends_at=None
            ),
            event_changed(63, name="Upcoming"),
        ],
    )

    figures = await overview(analytics, tokens)

    assert figures["events"] == {"on_sale": 1, "published": 3, "sold_out": 0, "known": 3}
