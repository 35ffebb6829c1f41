"""`evently up --demo` data: published events on sale now, loaded once however often run."""

from __future__ import annotations

from evently.events.demo import EVENTS, load_demo


async def test_demo_events_are_published_on_sale_and_loaded_once(database_url, client, db):
    env = {"DATABASE_URL": database_url}
    report: list[str] = []
    await load_demo(env, "http://127.0.0.1:8080", report)
    await load_demo(env, "http://127.0.0.1:8080", report)
    assert f"({len(EVENTS)} new, 0 re-dated)" in report[0]
    assert "(0 new, 0 re-dated)" in report[1]
    page = await (await client.get("/api/v1/events", params={"limit": 100})).json()
    assert page["total"] == len(EVENTS)
    assert {e["venue"]["city"] for e in page["items"]} == {"Berlin", "Paris", "Lisbon"}
    assert {e["type"] for e in page["items"]} == {"concert", "sports", "theatre"}
    for event in page["items"]:
        figures = await (await client.get(f"/api/v1/events/{event['id']}/availability")).json()
        assert figures["on_sale"] is True, event["name"]
    assert await db.fetchval("SELECT count(DISTINCT key) FROM events.outbox") == len(EVENTS)
