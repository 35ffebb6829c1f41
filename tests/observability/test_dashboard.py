"""The Grafana dashboard is well-formed and every query runs on a real Prometheus."""

from __future__ import annotations

from tests.observability.monitoring import dashboard, dashboard_expressions, runnable
from tests.support.prometheus import run_prometheus

REQUIRED_ROWS = {"Sales", "Traffic", "Latency", "Locks", "Outbox"}


def test_dashboard_has_the_required_rows_and_unique_panel_ids():
    board = dashboard()
    panels = board["panels"]
    rows = {p["title"] for p in panels if p["type"] == "row"}
    assert rows >= REQUIRED_ROWS
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "evently-overview"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]


def test_dashboard_panels_do_not_overlap():
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for y in range(pos["y"], pos["y"] + pos["h"]):
            for x in range(pos["x"], pos["x"] + pos["w"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells.get((x, y))}"
                cells[(x, y)] = panel["title"]


async def test_every_dashboard_query_is_valid_promql(tmp_path):
    with run_prometheus(tmp_path / "prometheus") as prometheus:
        for expr in dashboard_expressions():
            await prometheus.query(runnable(expr))  # raises on a parse or type error
