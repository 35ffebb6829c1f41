"""Where the monitoring assets live, and how to find the metrics they reference."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts/evently/files/prometheus/rules.yaml"
RULES_TEST = ROOT / "charts/evently/files/prometheus/rules_test.yaml"
DASHBOARD = ROOT / "charts/evently/files/dashboards/evently.json"
METRICS_DOC = ROOT / "docs/metrics.md"

METRIC_NAME = re.compile(r"\bevently_[a-z0-9_]+\b")
RECORDING_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_]+(?::[a-z0-9_]+)?\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Grafana's variables, replaced so the expressions run on a plain Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$service": ".*"}


def rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(RULES.read_text())["groups"]


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_expressions() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def runnable(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def base_metric(name: str, documented: set[str]) -> str:
    """``x_bucket`` -> ``x`` when ``x`` is a documented histogram."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in documented:
            return name.removesuffix(suffix)
    return name


def documented_names() -> set[str]:
    """Every metric and recording rule named in backticks in docs/metrics.md."""
    names: set[str] = set()
    for code in re.findall(r"`([^`]+)`", METRICS_DOC.read_text()):
        names.update(METRIC_NAME.findall(code))
        names.update(RECORDING_NAME.findall(code))
    return names


def referenced_names(expr: str) -> set[str]:
    """Metric and recording-rule names an expression reads."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(METRIC_NAME.findall(without_strings)) | set(RECORDING_NAME.findall(without_strings))
