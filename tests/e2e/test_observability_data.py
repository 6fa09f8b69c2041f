"""After a demo stream through the real stack, the real Prometheus has data for every dashboard
query and every recording rule (alerting rules are checked for names only: a healthy system fires
nothing)."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from cxpulse_cli.demo import post_stream, wait_for_incidents, wait_until_scored
from cxpulse_cli.localstack import REPO_ROOT, running_stack
from cxpulse_cli.simulate import simulate
from cxpulse_cli.webhook_client import CollectorClient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is not installed"),
]
DASHBOARDS = REPO_ROOT / "deploy" / "grafana" / "dashboards"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "cxpulse.rules.yaml"
# Dashboard variables as a viewer would pick them for the demo's crisis brand (stage: All).
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "${brand}": "acme-air",
    "$brand": "acme-air",
    "${stage}": ".*",
    "$stage": ".*",
    "${window}": "24h",
    "$window": "24h",
    "${period}": "day",
    "$period": "day",
    "${team}": "care",
    "$team": "care",
}


def dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expression = target.get("expr")
                if expression:
                    for name, value in VARIABLES.items():
                        expression = expression.replace(name, value)
                    queries.append((f"{path.stem}: {panel.get('title')}", expression))
    return queries


def recorded_series() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]


def has_data(prometheus: str, expression: str) -> bool:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10).json()
    return answer["status"] == "success" and bool(answer["data"]["result"])


def test_every_dashboard_query_and_recording_rule_returns_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for inherited in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"):
        monkeypatch.delenv(inherited, raising=False)
    monkeypatch.setenv("OWNERSHIP_FILE", str(REPO_ROOT / "config" / "ownership.demo.yaml"))
    monkeypatch.setenv("ALERTS_VOLUME_WARMUP", "PT3H")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    items = list(simulate(seed=7, events=2000, start=start, span=timedelta(hours=6)))
    with running_stack(tmp_path, with_prometheus=True) as stack:
        env = stack.env
        with CollectorClient(env["COLLECTOR_URL"], channel="demo", secret=env["DEMO_WEBHOOK_SECRET"]) as client:
            tally = post_stream(client, items)
        assert wait_until_scored(env["SCORER_URL"], tally.accepted) >= tally.accepted
        assert wait_for_incidents(env, tmp_path)
        prometheus = env["PROMETHEUS_URL"]
        queries = dashboard_queries() + [(f"recording rule {name}", name) for name in recorded_series()]
        deadline = time.monotonic() + 90
        empty = queries
        while empty and time.monotonic() < deadline:
            time.sleep(5)
            empty = [(where, expression) for where, expression in empty if not has_data(prometheus, expression)]
    assert len(queries) > 40
    assert empty == [], "no data for:\n" + "\n".join(f"{where}: {expression}" for where, expression in empty)
