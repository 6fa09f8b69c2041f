"""`make up` as a user runs it: processes, `.run/env`, the first requests, and `make down`."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from cxpulse_cli.localstack import Stack, start_stack
from cxpulse_cli.webhook_client import CollectorClient, encode, signed_headers
from cxpulse_contracts import topics
from tests.support.collector import survey
from tests.support.kafka_reader import read_topic, records_with_event_id

pytestmark = pytest.mark.integration

REQUIRED_ENV = {
    "COLLECTOR_URL",
    "SCORER_URL",
    "ALERTS_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "DEMO_CHANNEL",
    "DEMO_WEBHOOK_SECRET",
    "CXPULSE_API_TOKEN",
}


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, quoted = line.removeprefix("export ").partition("=")
        values[name] = quoted.strip("'")
    return values


def test_stack_serves_the_first_requests_and_stops_without_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for inherited in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "DEMO_WEBHOOK_SECRET", "CXPULSE_API_TOKEN"):
        monkeypatch.delenv(inherited, raising=False)
    stack = start_stack(tmp_path, with_prometheus=True)
    try:
        env = parse_env_file(tmp_path / "env")
        assert env.keys() >= REQUIRED_ENV
        assert env["DEMO_CHANNEL"] == "demo"
        assert env["DEMO_WEBHOOK_SECRET"].startswith("whsec_")
        for url_name in ("COLLECTOR_URL", "SCORER_URL", "ALERTS_URL"):
            assert env[url_name].startswith("http://127.0.0.1:")
        assert env["KAFKA_BOOTSTRAP_SERVERS"].startswith("127.0.0.1:")
        assert env["REDIS_URL"].startswith("redis://127.0.0.1:")

        secret = env["DEMO_WEBHOOK_SECRET"]
        body = survey()
        with CollectorClient(env["COLLECTOR_URL"], channel="demo", secret=secret) as client:
            first = client.post("survey", body)
            assert first.status_code == 202
            assert first.json()["accepted"] == 1
            again = client.post("survey", body)
            assert (again.status_code, again.json()["duplicates"]) == (202, 1)
            invalid = client.post("survey", survey(score=11))
            assert invalid.status_code == 422
            assert invalid.headers["content-type"] == "application/problem+json"

        event_id = first.json()["event_ids"][0]
        on_topic = read_topic(
            env["KAFKA_BOOTSTRAP_SERVERS"],
            topics.FEEDBACK,
            until=lambda found: len(records_with_event_id(found, event_id)) > 1,
        )
        assert len(records_with_event_id(on_topic, event_id)) == 1

        url = f"{env['COLLECTOR_URL']}/v1/surveys?channel=demo"
        encoded = encode(survey())
        wrong = "whsec_" + "A" * 43 + "="
        assert httpx.post(url, content=encoded, headers=signed_headers(wrong, encoded)).status_code == 401
        stale = signed_headers(secret, encoded, timestamp=time.time() - 360)
        assert httpx.post(url, content=encoded, headers=stale).status_code == 401
        for service in ("COLLECTOR_URL", "SCORER_URL", "ALERTS_URL"):
            assert httpx.get(f"{env[service]}/readyz").json()["ready"] is True
        if shutil.which("prometheus"):
            assert env["PROMETHEUS_URL"].startswith("http://127.0.0.1:")
            deadline = time.monotonic() + 30
            health: dict[str, str] = {}
            while time.monotonic() < deadline and set(health.values()) != {"up"}:
                targets = httpx.get(f"{env['PROMETHEUS_URL']}/api/v1/targets").json()["data"]["activeTargets"]
                health = {target["labels"]["job"]: target["health"] for target in targets}
                time.sleep(1)
            assert health == {"collector": "up", "scorer": "up", "alerts": "up"}
    finally:
        pids = [process.pid for process in stack.processes.values()]
        loaded = Stack.load(tmp_path)
        assert loaded is not None
        loaded.stop()
    assert not (tmp_path / "stack.json").exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
