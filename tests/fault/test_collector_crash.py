"""SIGKILL the collector at random moments while a channel streams signed batches at it.

The collector runs as the local stack runs it (its environment, the `demo` channel of
`config/channels.yaml`), with a scorer behind it. Four sender threads post the stream in
batches of 100 and retry exactly as a channel does: the same body and the same `webhook-id`,
after a dropped connection, a refused one (the collector is down) or a 503. Each kill drops the
requests in flight; the collector is restarted on the same port. `make fault` runs 20,000 events
and five kills (CXPULSE_FAULT_EVENTS, CXPULSE_FAULT_ROUNDS); CI runs fewer.

What must hold: every request ends in a 202, so every event is accepted; every accepted
`event_id` is on `cx.feedback.v1` and `cx.feedback.scored.v1` and applied to the aggregates,
which equal the reference exactly. A request killed after the broker acknowledged its events
but before its claims were confirmed is published again by its retry, so `cx.feedback.v1` may
hold copies: they are counted and printed, and the scorer applies each event once.

Pending claims of a killed collector expire after COLLECTOR_PENDING_CLAIM_TTL_S (5 s here,
60 s by default); until then a retry of those events is answered 503, never lost.
"""

from __future__ import annotations

import queue
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis as redis_client

from cxpulse_cli.localstack import (
    REPO_ROOT,
    ManagedProcess,
    free_port,
    new_webhook_secret,
    service_environment,
    start_service,
    wait_ready,
)
from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.config import load_channels
from cxpulse_collector.domain.ingest import FeedbackEvent, to_event
from cxpulse_contracts import MentionSubmission, SurveySubmission, topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.fault_checker import check_stream
from tests.support.feedback_stream import make_events, reference_counts
from tests.support.kafka_reader import end_offsets
from tests.support.scorer_fault import (
    WINDOW,
    fault_events,
    fault_rounds,
    fault_timeout_s,
    scorer_env,
    sigkill,
    start_group_at_end,
    wait_for_total,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(fault_timeout_s())]
EVENTS = fault_events()
ROUNDS = fault_rounds()
BATCH = 100
SENDERS = 4
CHANNEL = "demo"
GIVE_UP_AFTER_S = 240.0


@dataclass
class Delivery:
    """One batch as a channel keeps it until the collector answers 202."""

    kind: str
    body: bytes
    webhook_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    event_ids: list[str] | None = None
    attempts: int = 0
    dropped: int = 0
    """Attempts whose connection died with the request in flight."""
    refused: int = 0
    """Attempts that found nobody listening (the collector was down)."""
    unavailable: int = 0
    """503 answers: the broker or Redis was slow, or a killed request's claims had not expired yet."""


def stack_events(secret: str, brands: list[str]) -> list[FeedbackEvent]:
    """The fault stream as the demo channel sends it: the events the collector will make of it."""
    channel = load_channels(REPO_ROOT / "config" / "channels.yaml", {"DEMO_WEBHOOK_SECRET": secret})[CHANNEL]
    events = []
    for event in make_events(EVENTS, brands=brands, seed=21):
        submission_type = SurveySubmission if event.kind == "survey" else MentionSubmission
        submission = submission_type.model_validate(event.model_dump(include=set(submission_type.model_fields)))
        events.append(
            to_event(
                submission,
                source=channel.source,
                channel=CHANNEL,
                pseudonymisation_key=b"unused: no customer ids",
                received_at=datetime.now(UTC),
            )
        )
    return events


def batches(events: list[FeedbackEvent]) -> list[Delivery]:
    deliveries = []
    for kind, submission_type in (("survey", SurveySubmission), ("mention", MentionSubmission)):
        payloads = [
            event.model_dump(mode="json", include=set(submission_type.model_fields), exclude_none=True)
            for event in events
            if event.kind == kind
        ]
        deliveries += [Delivery(kind, encode(payloads[i : i + BATCH])) for i in range(0, len(payloads), BATCH)]
    random.Random(22).shuffle(deliveries)
    return deliveries


class Channel:
    """Sender threads draining a queue of deliveries, each retried until it is answered 202."""

    def __init__(self, base_url: str, secret: str, deliveries: list[Delivery]) -> None:
        self._base_url = base_url
        self._secret = secret
        self._queue: queue.Queue[Delivery] = queue.Queue()
        for delivery in deliveries:
            self._queue.put(delivery)
        self._accepted = 0
        self._lock = threading.Lock()
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._run, name=f"channel-{n}", daemon=True) for n in range(SENDERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._accepted

    def wait_for_accepted(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.accepted < count and time.monotonic() < deadline and not self.failures:
            time.sleep(0.02)
        return self.accepted >= count

    def _run(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=30.0) as http:
            while True:
                try:
                    delivery = self._queue.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._deliver(http, delivery)
                except Exception as error:
                    self.failures.append(f"{delivery.webhook_id}: {error!r}")
                    return
                with self._lock:
                    self._accepted += 1

    def _deliver(self, http: httpx.Client, delivery: Delivery) -> None:
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < deadline:
            delivery.attempts += 1
            # A retry is the same delivery: same id and body, signed afresh for the current time.
            headers = signed_headers(self._secret, delivery.body, msg_id=delivery.webhook_id)
            try:
                response = http.post(
                    f"/v1/{delivery.kind}s", params={"channel": CHANNEL}, content=delivery.body, headers=headers
                )
            except httpx.ConnectError:
                delivery.refused += 1
                time.sleep(0.1)
                continue
            except httpx.TransportError:
                delivery.dropped += 1
                time.sleep(0.1)
                continue
            if response.status_code == 202:
                delivery.event_ids = response.json()["event_ids"]
                return
            if response.status_code in (429, 503):
                delivery.unavailable += 1
                time.sleep(min(float(response.headers.get("retry-after", "1")), 2.0))
                continue
            raise AssertionError(f"answered {response.status_code}: {response.text[:300]}")
        raise AssertionError(f"not accepted after {GIVE_UP_AFTER_S:.0f}s and {delivery.attempts} attempts")


def test_collector_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    secret = new_webhook_secret()
    brands = [f"fault-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = stack_events(secret, brands)
    expected = reference_counts(events)
    deliveries = batches(events)
    client = redis_client.Redis.from_url(redis_settings.url.get_secret_value())
    aggregates = RedisAggregates(client)
    logs = tmp_path / "logs"
    environment = {
        **service_environment(
            {
                "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
                "REDIS_URL": redis_settings.url.get_secret_value(),
                "CXPULSE_API_TOKEN": "fault-test-operator-token",
                "DEMO_WEBHOOK_SECRET": secret,
                "COLLECTOR_PSEUDONYMISATION_KEY": secrets.token_urlsafe(32),
            },
            tmp_path,
        ),
        "COLLECTOR_CHANNELS_FILE": str(REPO_ROOT / "config" / "channels.yaml"),
        "COLLECTOR_PENDING_CLAIM_TTL_S": "5",
    }
    group = f"cx-scorer-fault-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka_settings, group)
    feedback_start = end_offsets(kafka_settings.bootstrap_servers, topics.FEEDBACK)
    scored_start = end_offsets(kafka_settings.bootstrap_servers, topics.SCORED)
    port = free_port()
    rng = random.Random(23)
    kill_points = sorted(rng.sample(range(len(deliveries) // 10, len(deliveries) * 9 // 10), ROUNDS))
    kills = 0
    scorer = start_service("scorer", scorer_env(kafka_settings, redis_settings, "fault-0", group), logs)
    collector: ManagedProcess = start_service("collector", environment, logs, port=port)
    try:
        wait_ready(collector)
        channel = Channel(collector.address, secret, deliveries)
        channel.start()
        for kill_at in kill_points:
            assert channel.wait_for_accepted(kill_at, timeout_s=240), (
                f"stuck before {kill_at} batches: {channel.failures}"
            )
            time.sleep(rng.uniform(0.0, 0.3))
            sigkill(collector)
            kills += 1
            collector = start_service("collector", environment, logs, port=port)
            wait_ready(collector)
        assert channel.join(timeout_s=GIVE_UP_AFTER_S + 60), "the channel never finished"
        assert not channel.failures, channel.failures
        applied = wait_for_total(aggregates, brands, EVENTS, timeout_s=300)
        # Checked while the scorer runs: aggregates are written before its transaction commits.
        accepted_ids = {event_id for delivery in deliveries for event_id in delivery.event_ids or []}
        brand_of = {str(event.event_id): event.brand for event in events}
        report = check_stream(
            kafka_settings,
            client,
            accepted={event_id: brand_of[event_id] for event_id in accepted_ids},
            reference=expected,
            feedback_since=feedback_start,
            scored_since=scored_start,
            window=WINDOW,
        )
    finally:
        collector.stop()
        scorer.stop()

    dropped = sum(delivery.dropped for delivery in deliveries)
    print(
        f"{kills} collector SIGKILLs after {kill_points} of {len(deliveries)} batches: "
        f"{dropped} requests dropped in flight, {sum(d.refused for d in deliveries)} refused while down, "
        f"{sum(d.unavailable for d in deliveries)} answered 503; all retried"
    )
    assert all(delivery.event_ids is not None for delivery in deliveries)
    assert accepted_ids == {str(event.event_id) for event in events}
    assert kills == ROUNDS
    assert dropped >= 1, "no request was in flight at any kill: the scenario did not happen"
    assert applied == EVENTS

    print(report.summary())
    assert not report.lost, f"{len(report.lost)} accepted events lost, e.g. {sorted(report.lost)[:5]}"
    assert not report.aggregate_differences, report.aggregate_differences
