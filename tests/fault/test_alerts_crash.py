"""SIGKILL the alerts service at random moments while it folds a crisis stream and delivers.

The stream goes straight onto `cx.feedback.scored.v1`, scored by the scorer's own code, in three
phases, each published once the service has read the one before: for each brand a first wave
of negative posts by authors with 200k followers (an influencer detractor: severity 2), then a
second wave by authors with 5M followers (severity 3), then ordinary traffic only; every phase
is mixed with ordinary positive and neutral mentions. Every event falls in one 5-minute interval,
so the incidents come from the per-post detectors, whose findings do not depend on where a batch
starts or which process reads it. An incident resolves once its brand has been quiet for
`RESOLVE_AFTER`. Notifications go to a signed-webhook receiver on loopback.

`make fault` runs five kills (CXPULSE_FAULT_ROUNDS); CI runs one. Each kill waits until the
restarted service has caught up; the second one kills the sender while the receiver holds a
notification (see `Killer`), the others fall at random moments: reading, folding, sending or
resolving.

What must hold:
- The incidents in the alerts store are the ones the same stream gives without kills (the
  service's monitor and incident engine fed the same phases in memory): per brand the same count,
  final severity and total reach (a batch replayed after a kill adds nothing), all resolved.
- Every notification the incidents record (trigger, update to a severity, resolve) reaches the
  receiver. Delivery is at least once, not exactly once: a sender killed after the receiver took
  a notification, before the outbox marked it delivered, sends it again once the job's 30 s lease
  expires. Such a copy is counted and printed; the test requires that each copy was caused by a
  kill (one fell between the first and the last copy), that the notification held at the kill
  mid-send was sent again, and that all copies carry the same `webhook-id` and the same
  notification, which is what lets a receiver de-duplicate. Without a kill mid-send, each key
  arrives exactly once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_client

from cxpulse_alerts.adapters.store import RedisAlertStore
from cxpulse_alerts.app import AlertsSettings, routing_from
from cxpulse_alerts.domain.incidents import EngineSettings, Incident, IncidentEngine
from cxpulse_alerts.domain.monitor import INTERVAL, MonitorSettings, SignalMonitor, floor_interval
from cxpulse_alerts.domain.ownership import load_ownership
from cxpulse_alerts.receivers.outbox import Outbox
from cxpulse_cli.localstack import ManagedProcess, new_webhook_secret, start_service, wait_ready
from cxpulse_collector.domain.ingest import FeedbackEvent, to_event
from cxpulse_contracts import MentionSubmission, ScoredFeedback, SocialMention, topics
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_shared.cloudevents import cloudevent_headers
from cxpulse_shared.kafka import make_producer
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.fault_checker import check_notifications, notification_keys
from tests.support.http_receiver import HttpReceiver, ReceivedRequest, Reply
from tests.support.scorer_fault import fault_rounds, fault_timeout_s, sigkill, start_group_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(fault_timeout_s())]
ROUNDS = fault_rounds()
BRANDS = 4
BACKGROUND = 1500
RESOLVE_AFTER = timedelta(seconds=30)
PHASE_PAUSE_S = 3.0
RECEIVER = "care-hook"
COMPLAINTS = (
    "Lost my bag again and nobody answers, worst airline ever",
    "Your app charged me twice and support ignores me. Terrible.",
    "Flight cancelled, no refund, awful service",
)
ORDINARY = ("Great help from the agent, thanks", "Fast and easy", "Checked in online, all fine", "Nice new lounge")
WAVES = (200_000, 5_000_000)


def ownership_file(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "ownership.yaml"
    path.write_text(
        f"""
receivers:
  - {{name: {RECEIVER}, type: webhook, url: "{receiver.url}/hook", secret: "${{FAULT_RECEIVER_SECRET}}"}}
teams:
  - {{name: care, receivers: [{RECEIVER}], acknowledge_within: 1h}}
route:
  team: care
  group_by: [brand]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
"""
    )
    return path


def mention(brand: str, index: int, text: str, followers: int, occurred_at: datetime) -> FeedbackEvent:
    submission = MentionSubmission(
        mention_id=f"{brand}-{index}",
        brand=brand,
        platform="x",
        author={"handle": f"author{index}", "followers": followers},
        text=text,
        url=f"https://x.com/author{index}/status/{index}",
        engagement={"likes": 3, "shares": 1, "replies": 0},
        occurred_at=occurred_at,
    )
    return to_event(
        submission, source="fault-alerts", channel="fault", pseudonymisation_key=b"k", received_at=datetime.now(UTC)
    )


def crisis_phases(brands: list[str], seed: int) -> list[list[ScoredFeedback]]:
    """Wave one, wave two, then ordinary traffic only; scored by the scorer's own code."""
    rng = random.Random(seed)
    # One 5-minute interval, already closed in wall time: no interval-based reading ever fires.
    interval = floor_interval(datetime.now(UTC)) - INTERVAL
    counter = iter(range(10**9))

    def moment() -> datetime:
        return interval + timedelta(seconds=rng.uniform(5, INTERVAL.total_seconds() - 5))

    def ordinary(count: int) -> list[FeedbackEvent]:
        return [
            mention(rng.choice(brands), next(counter), rng.choice(ORDINARY), rng.randint(0, 5000), moment())
            for _ in range(count)
        ]

    phases: list[list[FeedbackEvent]] = []
    for followers in WAVES:
        wave = [mention(brand, next(counter), text, followers, moment()) for brand in brands for text in COMPLAINTS]
        phase = ordinary(BACKGROUND // 3) + wave
        rng.shuffle(phase)
        phases.append(phase)
    phases.append(ordinary(BACKGROUND - 2 * (BACKGROUND // 3)))
    scorer = load_scoring(ScorerSettings()).scorer
    return [[item.scored for item in scorer.score_batch(phase, scored_at=datetime.now(UTC))] for phase in phases]


def reference_incidents(
    phases: list[list[ScoredFeedback]], settings: AlertsSettings, environ: dict[str, str]
) -> dict[str, list[Incident]]:
    """The incidents the same phases give without kills: the service's monitor and engine, in memory."""
    monitor = SignalMonitor(
        MonitorSettings(
            influencer_followers=settings.influencer_followers,
            viral_shares=settings.viral_shares,
            volume_warmup=settings.volume_warmup,
        )
    )
    engine = IncidentEngine(
        route=routing_from(load_ownership(settings.ownership_file, environ)),
        settings=EngineSettings(open_threshold=settings.open_threshold, resolve_after=settings.resolve_after),
    )
    incidents: dict[str, Incident] = {}
    now = datetime.now(UTC)
    for phase in phases:
        now += timedelta(seconds=PHASE_PAUSE_S)
        for brand, found in monitor.observe(phase).items():
            active = {i.fingerprint: i for i in incidents.values() if i.brand == brand and i.active}
            for change in engine.fold(
                active, found.signals, now=now, samples=found.samples, reach=found.negative_reach
            ):
                incidents[change.incident.id] = change.incident
    now += settings.resolve_after
    for incident in list(incidents.values()):
        for change in engine.tick(incident, now=now, silences=[]):
            incidents[change.incident.id] = change.incident
    by_brand: dict[str, list[Incident]] = {}
    for incident in incidents.values():
        by_brand.setdefault(incident.brand, []).append(incident)
    return by_brand


class Progress:
    """What has been published, and whether the alerts service has read all of it.

    Read, not committed: after repeated kills the local broker was seen to keep a group's committed
    offset far behind the log end on a partition whose records had all been processed, so the
    service's own first-sighting marks in Redis tell when it has read the stream.
    """

    def __init__(self, client: redis_client.Redis) -> None:
        self._client = client
        self._published: list[str] = []
        self._lock = threading.Lock()

    def published(self, event_ids: list[str]) -> None:
        with self._lock:
            self._published.extend(event_ids)

    def wait_until_read(self, timeout_s: float = 120.0) -> None:
        with self._lock:
            wanted = list(self._published)
        deadline = time.monotonic() + timeout_s
        while self._unread(wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the alerts service did not read what was published in {timeout_s:.0f} s")
            time.sleep(0.5)

    def _unread(self, event_ids: list[str]) -> int:
        pipe = self._client.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.exists(f"cx:alerts:seen:{event_id}")
        return sum(1 for found in pipe.execute() if not found)


def publish_phases(kafka: KafkaSettings, phases: list[list[ScoredFeedback]], progress: Progress) -> None:
    """Each phase once the previous one is read, so the second wave usually raises an open incident."""
    producer = make_producer(kafka)
    try:
        for phase in phases:
            for item in phase:
                producer.send(
                    topics.SCORED,
                    key=item.event.brand.encode(),
                    value=item.model_dump_json(exclude_none=True).encode(),
                    headers=cloudevent_headers(
                        event_id=str(item.event.event_id),
                        source="/cxpulse/scorer",
                        event_type=topics.CE_TYPE_SCORED,
                        time=datetime.now(UTC),
                        trace_carrier={},
                    ),
                )
            producer.flush()
            progress.published([str(item.event.event_id) for item in phase])
            progress.wait_until_read()
            time.sleep(PHASE_PAUSE_S)
    finally:
        producer.close()


class Killer:
    """Kills the alerts service ROUNDS times, each after it has caught up.

    Every kill but the second falls at a random moment. The second waits for a notification to
    reach the receiver, which holds its answer for a while, and kills the sender then: the one
    moment at-least-once delivery is about (the receiver has it, the outbox does not know).
    """

    def __init__(self, start: Iterator[ManagedProcess], progress: Progress, seed: int) -> None:
        self._start = start
        self._progress = progress
        self._rng = random.Random(seed)
        self.process = next(start)
        self.kill_times: list[float] = []
        self.killed_mid_send: list[str] = []
        """webhook-ids the receiver was holding when their sender was killed."""
        self.failure: str | None = None
        self._armed = threading.Event()
        self._holding = threading.Event()
        self._held: str | None = None
        self._thread = threading.Thread(target=self._run, name="alerts-killer", daemon=True)

    def reply(self, request: ReceivedRequest) -> Reply:
        """The receiver's answers: a little slow, and slow enough to kill the sender when armed."""
        if self._armed.is_set() and not self._holding.is_set():
            self._held = request.headers.get("webhook-id")
            self._holding.set()
            return Reply(delay_s=3.0)
        return Reply(delay_s=0.3)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the killer never finished"
        assert self.failure is None, self.failure

    def _run(self) -> None:
        try:
            for round_index in range(ROUNDS):
                wait_ready(self.process, timeout_s=120)
                if round_index == 1:
                    self._armed.set()
                    if self._holding.wait(timeout=RESOLVE_AFTER.total_seconds() + 60) and self._held:
                        self.killed_mid_send.append(self._held)
                    self._armed.clear()
                else:
                    time.sleep(self._rng.uniform(0.5, 4.0))
                sigkill(self.process)
                self.kill_times.append(time.monotonic())
                self.process = next(self._start)
                wait_ready(self.process, timeout_s=120)
                self._progress.wait_until_read()
        except Exception as error:
            self.failure = repr(error)


def test_alerts_killed_while_folding_and_delivering_keeps_incidents_and_notifies_each_once(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    brands = [f"crash-{uuid.uuid4().hex[:6]}-{n}" for n in range(BRANDS)]
    phases = crisis_phases(brands, seed=31)
    complaints = [
        item
        for phase in phases
        for item in phase
        if isinstance(item.event, SocialMention) and item.event.author.followers in WAVES
    ]
    assert all(item.sentiment.label == "negative" for item in complaints), "the complaints must score negative"
    secret = new_webhook_secret()
    group = f"cx-alerts-fault-{uuid.uuid4().hex[:8]}"
    client = redis_client.Redis.from_url(redis_settings.url.get_secret_value())
    store, outbox = RedisAlertStore(client), Outbox(client)
    with HttpReceiver() as receiver:
        settings = AlertsSettings(
            ownership_file=ownership_file(tmp_path, receiver), group_id=group, resolve_after=RESOLVE_AFTER
        )
        expected = reference_incidents(phases, settings, {"FAULT_RECEIVER_SECRET": secret})
        environment = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "REDIS_URL": redis_settings.url.get_secret_value(),
            "CXPULSE_API_TOKEN": "fault-test-operator-token",
            "OWNERSHIP_FILE": str(settings.ownership_file),
            "FAULT_RECEIVER_SECRET": secret,
            "ALERTS_GROUP_ID": group,
            "ALERTS_RESOLVE_AFTER": f"PT{RESOLVE_AFTER.total_seconds():.0f}S",
            "ALERTS_MAX_POLL_INTERVAL_MS": "8000",
            "ALERTS_SESSION_TIMEOUT_MS": "6000",
        }
        start_group_at_end(kafka_settings, group, topics.SCORED)

        def processes() -> Iterator[ManagedProcess]:
            while True:
                yield start_service("alerts", environment, tmp_path / "logs")

        progress = Progress(client)
        killer = Killer(processes(), progress, seed=32)
        receiver.handler = killer.reply
        try:
            wait_ready(killer.process)
            killer.start()
            publish_phases(kafka_settings, phases, progress)
            killer.join(timeout_s=150 * ROUNDS)

            def mine() -> list[Incident]:
                return [incident for incident in store.recent(limit=2000) if incident.brand in brands]

            def settled() -> bool:
                incidents = mine()
                return (
                    {incident.brand for incident in incidents} == set(brands)
                    and not any(incident.active for incident in incidents)
                    and all(outbox.is_delivered(key) for incident in incidents for key in notification_keys(incident))
                )

            deadline = time.monotonic() + RESOLVE_AFTER.total_seconds() + 120
            while not settled() and time.monotonic() < deadline:
                time.sleep(1.0)
        finally:
            killer.process.stop()
        incidents = mine()
        requests = [request for request in receiver.requests if _brand_of(request) in brands]

    report = check_notifications(requests, incidents)
    print(
        f"{len(killer.kill_times)} alerts SIGKILLs; {len(incidents)} incidents "
        f"{dict(Counter(incident.brand for incident in incidents))}, severities "
        f"{sorted(incident.severity for incident in incidents)}, notified "
        f"{dict(Counter(sent.split(':')[0] for incident in incidents for sent in incident.notified))}; "
        f"{report.summary()}; killed while the receiver held {len(killer.killed_mid_send)}"
    )
    assert len(killer.kill_times) == ROUNDS
    for brand in brands:
        found = [incident for incident in incidents if incident.brand == brand]
        reference = expected.get(brand, [])
        assert len(found) == len(reference), f"{brand}: {len(found)} incidents, without kills {len(reference)}"
        assert sorted(i.severity for i in found) == sorted(i.severity for i in reference), brand
        # Evidence is counted once too: a batch replayed after a kill must not add its reach again.
        assert sorted(i.total_reach for i in found) == sorted(i.total_reach for i in reference), brand
    for incident in incidents:
        assert incident.status == "resolved", incident.id
        assert {"trigger", "resolve"} <= set(incident.notified), incident.notified
    assert not report.missing, f"never delivered: {sorted(report.missing)}"
    assert not report.unexpected, f"delivered but recorded by no incident: {sorted(report.unexpected)}"
    assert not report.inconsistent, f"copies that differ, so no receiver could de-duplicate: {report.inconsistent}"
    for message_id in killer.killed_mid_send:
        assert report.deliveries.get(message_id, 0) >= 2, f"{message_id} was not sent again after its sender died"
    for message_id in report.redelivered:
        arrivals = sorted(r.received_at for r in requests if r.succeeded and r.headers["webhook-id"] == message_id)
        assert any(arrivals[0] < killed < arrivals[-1] for killed in killer.kill_times), (
            f"{message_id} was delivered {len(arrivals)} times with no kill in between"
        )


def _brand_of(request: ReceivedRequest) -> str | None:
    try:
        brand = request.json()["data"]["brand"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(brand)
