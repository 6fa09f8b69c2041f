"""The alert rules: promtool accepts them and their unit tests pass; every alert is actionable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.deploy.support import DEPLOY, REPO, RULE_FILE, github_anchor, rule_groups

PROMETHEUS = DEPLOY / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus): rules cannot be checked")
    return path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120, cwd=REPO)


def test_promtool_checks_the_rules(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(RULE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    tests = sorted(PROMETHEUS.glob("tests/*.yaml"))
    assert tests
    result = _run(promtool, "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_compose_prometheus_config(promtool: str) -> None:
    result = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, "the config must load the rule file"


def test_every_alert_has_a_test_case() -> None:
    alerts = {rule["alert"] for group in rule_groups() for rule in group["rules"] if "alert" in rule}
    tested = set()
    for path in PROMETHEUS.glob("tests/*.yaml"):
        tested |= set(re.findall(r"alertname: (\w+)", path.read_text(encoding="utf-8")))
    assert alerts <= tested, f"alerts without a unit test: {sorted(alerts - tested)}"


def test_every_alert_is_actionable() -> None:
    anchors = set()
    in_code = False
    for line in (REPO / "docs" / "operations.md").read_text(encoding="utf-8").splitlines():
        in_code ^= line.lstrip().startswith("```")
        if line.startswith("#") and not in_code:
            anchors.add(github_anchor(line.lstrip("#")))
    for group in rule_groups():
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert {"summary", "description", "runbook"} <= rule["annotations"].keys(), rule["alert"]
            document, _, anchor = rule["annotations"]["runbook"].partition("#")
            assert document == "docs/operations.md", rule["alert"]
            assert anchor in anchors, f"{rule['alert']}: docs/operations.md has no section #{anchor}"


def test_webhook_slo_pages_on_two_multi_window_burn_rates() -> None:
    alerts = {rule["alert"]: rule for group in rule_groups() for rule in group["rules"] if "alert" in rule}
    windows = {
        name: re.findall(r"ratio_rate(\w+) > \(([\d.]+) \* 0\.001\)", rule["expr"])
        for name, rule in alerts.items()
        if rule["labels"].get("slo") == "webhook-acceptance"
    }
    pages = {tuple(pairs) for name, pairs in windows.items() if alerts[name]["labels"]["severity"] == "critical"}
    assert (("1h", "14.4"), ("5m", "14.4")) in pages
    assert (("6h", "6"), ("30m", "6")) in pages


def test_the_prometheus_rule_manifest_is_up_to_date() -> None:
    result = _run(sys.executable, str(PROMETHEUS / "generate.py"), "--check")
    assert result.returncode == 0, result.stderr
