"""docs/metrics.md documents every metric, and every metric follows the naming scheme."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from prometheus_client import REGISTRY

from tests.observability.monitoring import (
    base_metric,
    dashboard_expressions,
    documented_names,
    referenced_names,
    rules,
)

FORBIDDEN_LABELS = {"user_id", "email", "booking_id", "entry_id", "token", "path", "jti"}
# Labels allowed only on the metrics documented as bounding them.
BOUNDED_LABELS = {
    "event_id": {
        "evently_inventory_available_seats",
        "evently_inventory_sold_seats",
        "evently_inventory_held_seats",
    }
}
UNIT_SUFFIXES = ("_seconds", "_bytes", "_ratio")


def evently_metric_families():
    """Every ``evently_*`` metric the code registers (importing every module first)."""
    for package_name in ("evently", "evently_operator"):
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + "."):
            if module.name.endswith(("__main__", ".cli")):
                continue
            importlib.import_module(module.name)
    return [f for f in REGISTRY.collect() if f.name.startswith("evently_")]


def exposed_name(family) -> str:
    return family.name + "_total" if family.type == "counter" else family.name


def test_every_metric_the_rules_use_is_documented():
    documented = documented_names()
    missing = {
        (rule.get("alert") or rule.get("record"), name)
        for rule in rules()
        for name in referenced_names(rule["expr"])
        if base_metric(name, documented) not in documented
    }
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    assert not missing
    assert recorded <= documented, recorded - documented


def test_every_metric_the_dashboard_uses_is_documented():
    documented = documented_names()
    missing = {
        name
        for expr in dashboard_expressions()
        for name in referenced_names(expr)
        if base_metric(name, documented) not in documented
    }
    assert not missing


def test_every_registered_metric_is_documented():
    documented = documented_names()
    names = {exposed_name(f) for f in evently_metric_families()}
    assert "evently_http_requests_total" in names
    assert names - documented == set()


@pytest.mark.parametrize("family", evently_metric_families(), ids=exposed_name)
def test_registered_metrics_follow_the_naming_scheme(family):
    name = exposed_name(family)
    assert re.fullmatch(r"evently_[a-z][a-z0-9_]*", name)
    if family.type == "counter":
        assert name.endswith("_total")
    if family.type == "histogram":
        assert name.endswith(UNIT_SUFFIXES), f"{name}: a histogram is named after its unit"
    assert "_milliseconds" not in name and "_ms" not in name.split("_total")[0][-3:]
    labels = {label for sample in family.samples for label in sample.labels} - {"le"}
    assert not labels & FORBIDDEN_LABELS, labels & FORBIDDEN_LABELS
    for label, allowed in BOUNDED_LABELS.items():
        if label in labels:
            assert name in allowed, f"{name} uses {label}, bounded only on {allowed}"
