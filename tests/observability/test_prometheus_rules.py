"""The rules file passes promtool, its unit tests, and loads cleanly in a real Prometheus."""

from __future__ import annotations

import asyncio
import subprocess

import yaml

from tests.observability.monitoring import RULES, RULES_TEST, rule_groups, rules
from tests.support.prometheus import promtool_binary, run_prometheus

REQUIRED_ALERTS = {
    "EventlyHighErrorRate",
    "EventlyBookingLatencyHigh",
    "EventlyLockTimeouts",
    "EventlyOutboxLagHigh",
    "EventlyExpirySweeperStalled",
    "EventlyEventSoldOut",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=RULES.parent,
        check=False,
    )


def test_promtool_check_rules_passes():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests_pass():
    result = promtool("test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_required_alert_exists_with_a_severity_and_summary():
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert alerts.keys() >= REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"], name
    assert alerts["EventlyEventSoldOut"]["labels"]["severity"] == "info"


def test_every_alert_is_unit_tested_firing_and_quiet():
    cases = yaml.safe_load(RULES_TEST.read_text())["tests"]
    firing, quiet = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts <= firing, alerts - firing
    assert alerts <= quiet, alerts - quiet


async def test_rules_load_and_evaluate_in_a_real_prometheus(tmp_path):
    with run_prometheus(tmp_path / "prometheus", rule_files=[RULES]) as prometheus:
        data = await prometheus.api("rules")
        loaded = {group["name"]: group for group in data["groups"]}
        assert loaded.keys() == {group["name"] for group in rule_groups()}
        # Each group is evaluated every second; wait (bounded) for one evaluation of all.
        for _ in range(80):
            groups = (await prometheus.api("rules"))["groups"]
            if all(not g["lastEvaluation"].startswith("0001") for g in groups):
                break
            await asyncio.sleep(0.25)
        for group in groups:
            for rule in group["rules"]:
                assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
