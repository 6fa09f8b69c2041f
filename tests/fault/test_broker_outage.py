"""The broker unreachable for a minute (SIGSTOP, then SIGCONT) under a collector that keeps receiving.

A client sends signed surveys before, during and after the outage, one request at a time, and
retries each one answered 503. During the outage every answer is 503 with `Retry-After`, as
problem+json, within the publish timeout; afterwards the same collector process accepts again with
no restart; and every event ever acknowledged with 202 is on `cx.feedback.v1`.

The test pauses a broker of its own: pausing the session's broker would stall every other test.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from cxpulse_cli.localstack import ManagedProcess, start_broker, start_redis, start_service, wait_ready
from cxpulse_cli.webhook_client import CollectorClient
from cxpulse_collector.app import SEND_MAX_BLOCK_MS
from cxpulse_contracts.topics import ALL_TOPICS, FEEDBACK
from cxpulse_shared.kafka import ensure_topics
from cxpulse_shared.settings import KafkaSettings
from tests.support.collector import survey
from tests.support.kafka_reader import read_topic

OUTAGE_S = float(os.environ.get("CXPULSE_FAULT_OUTAGE_S", "60"))
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240 + 2 * OUTAGE_S)]
PUBLISH_TIMEOUT_S = 2.0
# How long one answer may take at most: the publish timeout, the producer's longest blocking
# send, and room for a loaded two-core machine.
ANSWER_WITHIN_S = PUBLISH_TIMEOUT_S + SEND_MAX_BLOCK_MS / 1000 + 5.0
NORMAL_PHASE_S = 5.0


@dataclass
class Answer:
    phase: str
    status: int
    seconds: float
    event_id: str | None
    response: httpx.Response


@dataclass
class FeedbackSender:
    """One client posting one survey per request, as a survey tool would, remembering every answer."""

    client: CollectorClient
    answers: list[Answer] = field(default_factory=list)
    refused: list[dict[str, object]] = field(default_factory=list)

    def send(self, phase: str, body: dict[str, object] | None = None) -> Answer:
        body = body or survey(brand="outage-test", comment=None)
        started = time.monotonic()
        response = self.client.post("survey", body)
        answer = Answer(
            phase=phase,
            status=response.status_code,
            seconds=time.monotonic() - started,
            event_id=response.json()["event_ids"][0] if response.status_code == 202 else None,
            response=response,
        )
        if answer.status == 503:
            self.refused.append(body)
        self.answers.append(answer)
        return answer

    def send_for(self, phase: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.send(phase)
            time.sleep(0.05)

    def in_phase(self, phase: str) -> list[Answer]:
        return [answer for answer in self.answers if answer.phase == phase]

    def acknowledged(self) -> set[str]:
        return {answer.event_id for answer in self.answers if answer.event_id is not None}


@pytest.fixture
def collector_with_own_broker(tmp_path: Path, webhook_secret: str) -> Iterator[tuple[ManagedProcess, ManagedProcess]]:
    logs = tmp_path / "logs"
    started: list[ManagedProcess] = []
    try:
        broker = start_broker(logs)
        started.append(broker)
        ensure_topics(KafkaSettings(bootstrap_servers=broker.address), ALL_TOPICS)
        redis_process = start_redis(tmp_path / "redis", logs)
        started.append(redis_process)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.address,
            "REDIS_URL": redis_process.address,
            "DEMO_WEBHOOK_SECRET": webhook_secret,
            "COLLECTOR_CHANNELS_FILE": "config/channels.yaml",
            "COLLECTOR_PSEUDONYMISATION_KEY": uuid.uuid4().hex,
            "COLLECTOR_PUBLISH_TIMEOUT_S": str(PUBLISH_TIMEOUT_S),
            "CXPULSE_API_TOKEN": uuid.uuid4().hex,
        }
        collector = start_service("collector", env, logs)
        started.append(collector)
        wait_ready(collector, timeout_s=120)
        yield broker, collector
    finally:
        for process in reversed(started):
            process.stop()


def test_collector_answers_503_through_a_broker_outage_and_loses_no_acknowledged_event(
    collector_with_own_broker: tuple[ManagedProcess, ManagedProcess], webhook_secret: str
) -> None:
    broker, collector = collector_with_own_broker
    with CollectorClient(collector.address, channel="demo", secret=webhook_secret, timeout_s=60) as client:
        sender = FeedbackSender(client)
        sender.send_for("before", NORMAL_PHASE_S)

        broker.signal(signal.SIGSTOP)
        try:
            sender.send_for("outage", OUTAGE_S)
        finally:
            broker.signal(signal.SIGCONT)
        resumed_at = time.monotonic()
        while sender.send("recovery").status != 202 and time.monotonic() - resumed_at < 120:
            time.sleep(0.5)
        recovered_s = time.monotonic() - resumed_at
        sender.send_for("after", NORMAL_PHASE_S)
        retries = [sender.send("retry", body) for body in list(sender.refused)]

    before, outage, after = sender.in_phase("before"), sender.in_phase("outage"), sender.in_phase("after")
    assert before
    assert all(answer.status == 202 for answer in before)
    assert outage, "no request was sent during the outage"
    for answer in outage:
        assert answer.status == 503, answer.response.text
        assert answer.response.headers["content-type"] == "application/problem+json"
        assert int(answer.response.headers["retry-after"]) >= 1
        assert answer.seconds < ANSWER_WITHIN_S, f"an answer took {answer.seconds:.1f}s: the collector hung"
    assert sender.in_phase("recovery")[-1].status == 202, "the collector did not accept again after the outage"
    assert collector.alive(), "the collector was restarted or died"
    assert after
    assert all(answer.status == 202 for answer in after)
    assert all(retry.status == 202 and retry.response.json()["accepted"] == 1 for retry in retries)

    acknowledged = sender.acknowledged()
    on_topic = read_topic(broker.address, FEEDBACK, timeout_s=60)
    event_ids = [dict(record.headers)["ce_id"].decode() for record in on_topic]
    missing = acknowledged - set(event_ids)
    assert not missing, f"{len(missing)} acknowledged events are not on {FEEDBACK}"
    slowest = max(answer.seconds for answer in outage)
    print(
        f"broker paused {OUTAGE_S:.0f}s: {len(before)} accepted before, {len(outage)} answered 503 during "
        f"(slowest {slowest:.1f}s), accepted again {recovered_s:.1f}s after SIGCONT, {len(after)} accepted after, "
        f"{len(retries)} refused events retried and accepted; {len(acknowledged)} acknowledged events all on the "
        f"topic, {len(event_ids) - len(set(event_ids))} extra copies"
    )
