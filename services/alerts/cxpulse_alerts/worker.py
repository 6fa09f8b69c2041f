"""The alerts consume loop: scored feedback → detector signals → incidents → outbox and `cx.alerts.v1`.

Offsets are committed after incidents and notifications are stored. A crash before that
replays the batch: incidents fold the same signals again and notifications are keyed by
incident and transition, so the replay changes nothing a receiver can see.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError

from cxpulse_alerts.adapters.store import ConcurrentUpdate, RedisAlertStore
from cxpulse_alerts.domain.incidents import Change, Incident, IncidentEngine, NotificationIntent
from cxpulse_alerts.domain.monitor import SignalMonitor
from cxpulse_alerts.notification import Evidence, Notification
from cxpulse_alerts.notification import SampleMention as NotifiedMention
from cxpulse_alerts.receivers.outbox import Outbox
from cxpulse_contracts import AlertEvent, ScoredFeedback, SocialMention, topics
from cxpulse_shared.cloudevents import cloudevent_headers
from cxpulse_shared.consumer import consumer_lag
from cxpulse_shared.dead_letters import dead_letter

logger = logging.getLogger(__name__)
GROUP = "cx-alerts"
ALERT_NAMESPACE = uuid.UUID("6a1c3e0e-7f1b-5c55-9d2a-616c65727473")
SEEN_TTL_S = 3 * 24 * 3600
STATE_SAVE_INTERVAL_S = 10.0
# Timers (group_wait, escalation, auto-resolve) are minutes long: a sweep a second is plenty.
TICK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class ReachAt:
    """A negative mention's reach and where it was read, so a replayed batch adds it only once."""

    partition: int
    offset: int
    reach: int


@dataclass(frozen=True)
class AlertsMetrics:
    signals: Counter
    changes: Counter
    dead_letters: Counter
    lag: Gauge
    time_to_acknowledge: Histogram
    batch_seconds: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> AlertsMetrics:
        return cls(
            signals=Counter(
                "cx_alerts_signals", "Detector signals at or above the alert threshold", ["detector"], registry=registry
            ),
            changes=Counter("cx_alerts_incident_changes", "Incident changes by type", ["type"], registry=registry),
            dead_letters=Counter(
                "cx_alerts_dead_letters", "Undecodable scored messages sent to the DLQ", registry=registry
            ),
            lag=Gauge("cx_alerts_consumer_lag", "Records behind the log end on assigned partitions", registry=registry),
            time_to_acknowledge=Histogram(
                "cx_alerts_time_to_acknowledge_seconds",
                "From an incident's opening to its acknowledgement",
                buckets=(60, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400),
                registry=registry,
            ),
            batch_seconds=Histogram("cx_alerts_batch_seconds", "Time to process one polled batch", registry=registry),
        )


def alert_event_for(change: Change) -> AlertEvent:
    incident = change.incident
    return AlertEvent(
        event_id=uuid.uuid5(ALERT_NAMESPACE, f"{incident.id}|{change.type}|{incident.version}"),
        type=change.type,
        incident_id=incident.id,
        brand=incident.brand,
        severity=incident.severity,
        crisis_risk=incident.crisis_risk,
        summary=summary_of(incident),
        stages=list(incident.stages),
        teams=list(incident.routing.teams),
        receivers=list(incident.routing.receivers),
        actor=change.actor,
        occurred_at=incident.updated_at,
    )


def summary_of(incident: Incident) -> str:
    strongest = max(incident.signals.values(), key=lambda signal: signal.score)
    where = f" ({', '.join(incident.stages)})" if incident.stages else ""
    observed = "" if strongest.observed is None else f": observed {strongest.observed:g}"
    baseline = "" if strongest.baseline is None else f" vs baseline {strongest.baseline:.3g}"
    return f"{incident.brand}{where}: {strongest.detector.replace('_', ' ')}{observed}{baseline}"


def notifications_for(incident: Incident, intent: NotificationIntent, now: datetime) -> list[Notification]:
    strongest = max(incident.signals.values(), key=lambda signal: signal.score)
    evidence = Evidence(
        baseline=strongest.baseline,
        observed=strongest.observed,
        detectors=sorted({signal.detector for signal in incident.signals.values()}),
        top_terms=list(incident.top_terms),
        sample_mentions=[
            NotifiedMention(text=s.text, url=s.url, author=s.author, reach=s.reach) for s in incident.samples
        ],
        total_reach=incident.total_reach,
        stages=list(incident.stages),
        topics=list(incident.topics),
    )
    return [
        Notification(
            idempotency_key=f"{intent.key}:{receiver}",
            receiver=receiver,
            incident_id=incident.id,
            fingerprint=incident.fingerprint,
            action=intent.action,
            brand=incident.brand,
            severity=incident.severity,
            crisis_risk=incident.crisis_risk,
            title=f"[sev {incident.severity}] {incident.brand}: brewing crisis",
            summary=summary_of(incident),
            teams=list(incident.routing.teams),
            evidence=evidence,
            occurred_at=now,
            traceparent=incident.traceparent,
        )
        for receiver in intent.receivers
    ]


class AlertsPipeline:
    def __init__(
        self,
        *,
        monitor: SignalMonitor,
        engine: IncidentEngine,
        store: RedisAlertStore,
        outbox: Outbox,
        redis_client: redis.Redis,
        producer_factory: Callable[[], KafkaProducer],
        metrics: AlertsMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._monitor = monitor
        self.engine = engine
        self.store = store
        self._outbox = outbox
        self._redis = redis_client
        self._producer_factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._restored: set[str] = set()
        self._state_saved_at: dict[str, float] = {}
        self._ticked_at = float("-inf")

    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self._producer_factory()
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)

    def handle(self, consumer: KafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        started = time.perf_counter()
        records = [record for partition in sorted(batch) for record in batch[partition]]
        fresh = self._first_sightings(records)
        items: list[ScoredFeedback] = []
        trace_of_brand: dict[str, str] = {}
        negative_reach: dict[str, list[ReachAt]] = defaultdict(list)
        for record in fresh:
            try:
                item = ScoredFeedback.model_validate_json(record.value or b"")
                items.append(item)
                if isinstance(item.event, SocialMention) and item.sentiment.label == "negative":
                    negative_reach[item.event.brand].append(ReachAt(record.partition, record.offset, item.reach))
                traceparent = dict(record.headers or []).get("traceparent")
                if traceparent:
                    trace_of_brand[item.event.brand] = traceparent.decode()
            except ValidationError as error:
                self._send_dead_letter(record, f"not a scored event: {error.errors(include_url=False)[:3]}")
        with self._lock:
            for brand in {item.event.brand for item in items} - self._restored:
                state = self.store.detector_state(brand)
                if state:
                    self._monitor.restore_brand(brand, state)
                self._restored.add(brand)
            findings = self._monitor.observe(items)
            now = self._clock()
            for brand, found in findings.items():
                for signal in found.signals:
                    if signal.score >= self.engine.settings.open_threshold:
                        self._metrics.signals.labels(signal.detector).inc()
                if found.signals:
                    self._fold(brand, found, now, trace_of_brand.get(brand), negative_reach[brand])
                self._save_state_now_and_then(brand)
            self.tick_now_and_then(now)
        self.producer().flush(timeout=10)
        consumer.commit()
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._metrics.lag.set(consumer_lag(consumer))

    def _first_sightings(self, records: list[Any]) -> list[Any]:
        """At-least-once input: a scored event seen before (a replay, a duplicate) counts once."""
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            event_id = dict(record.headers or []).get("ce_id", b"").decode() or f"{record.topic}:{record.offset}"
            pipe.set(f"cx:alerts:seen:{event_id}", f"{record.partition}:{record.offset}", nx=True, ex=SEEN_TTL_S)
            pipe.get(f"cx:alerts:seen:{event_id}")
        answers = pipe.execute()
        fresh = []
        for index, record in enumerate(records):
            created, holder = answers[2 * index], answers[2 * index + 1]
            if created or (holder and holder.decode() == f"{record.partition}:{record.offset}"):
                fresh.append(record)
        return fresh

    def _fold(
        self, brand: str, found: Any, now: datetime, traceparent: str | None, negative_reach: list[ReachAt]
    ) -> None:
        for _attempt in range(5):
            active = self.store.active_for(brand)
            # A batch replayed after a crash may already be in the incident: its reach counts once.
            counted = {p: o for incident in active.values() for p, o in incident.reach_counted_through.items()}
            through = dict(counted)
            for position in negative_reach:
                through[position.partition] = max(through.get(position.partition, -1), position.offset)
            changes = self.engine.fold(
                active,
                found.signals,
                now=now,
                samples=found.samples,
                top_terms=self._monitor.top_terms(brand, now),
                reach=sum(p.reach for p in negative_reach if p.offset > counted.get(p.partition, -1)),
                traceparent=traceparent,
            )
            changes = [
                Change(change.type, replace(change.incident, reach_counted_through=through), change.actor)
                for change in changes
            ]
            try:
                for change in changes:
                    self._apply(change, now)
                return
            except ConcurrentUpdate:
                continue
        logger.warning("incident of %s changed concurrently five times; signals folded next batch", brand)

    def _apply(self, change: Change, now: datetime) -> Incident:
        incident, intents = self.engine.due_notifications(change.incident, now=now)
        for intent in intents:
            for notification in notifications_for(incident, intent, now):
                self._outbox.enqueue(notification)
        saved = self.store.save(incident)
        self._metrics.changes.labels(change.type).inc()
        self.publish_change(Change(change.type, saved, change.actor))
        if change.type == "acknowledged" and saved.acknowledged_at:
            self._metrics.time_to_acknowledge.observe((saved.acknowledged_at - saved.opened_at).total_seconds())
        return saved

    def tick_now_and_then(self, now: datetime | None = None) -> None:
        """The timer sweep reads every active incident; under load it runs once a second, not per batch."""
        if time.monotonic() - self._ticked_at >= TICK_INTERVAL_S:
            self._ticked_at = time.monotonic()
            self.tick(now)

    def tick(self, now: datetime | None = None) -> None:
        """Timers of every active incident: notifications due, escalation, silences, auto-resolve."""
        moment = now or self._clock()
        silences = self.store.silences(now=moment)
        for brand in self.store.active_brands():
            for incident in self.store.active_for(brand).values():
                try:
                    changes = self.engine.tick(incident, now=moment, silences=silences)
                    current = incident
                    for change in changes:
                        current = self._apply(change, moment)
                    if not changes:
                        updated, intents = self.engine.due_notifications(current, now=moment)
                        if intents:
                            for intent in intents:
                                for notification in notifications_for(updated, intent, moment):
                                    self._outbox.enqueue(notification)
                            self.store.save(updated)
                except ConcurrentUpdate:
                    continue

    def publish_change(self, change: Change) -> None:
        event = alert_event_for(change)
        self.producer().send(
            topics.ALERTS,
            key=change.incident.brand.encode(),
            value=event.model_dump_json(exclude_none=True).encode(),
            headers=cloudevent_headers(
                event_id=str(event.event_id),
                source="/cxpulse/alerts",
                event_type=topics.CE_TYPE_ALERT,
                time=event.occurred_at,
                trace_carrier={},
            ),
        )

    def _send_dead_letter(self, record: Any, reason: str) -> None:
        letter = dead_letter(record, reason=reason, consumer_group=GROUP)
        self.producer().send(
            topics.DEAD_LETTERS, key=record.key, value=letter.model_dump_json().encode(), headers=record.headers or []
        )
        self._metrics.dead_letters.inc()

    def _save_state_now_and_then(self, brand: str) -> None:
        if time.monotonic() - self._state_saved_at.get(brand, float("-inf")) >= STATE_SAVE_INTERVAL_S:
            self.store.save_detector_state(brand, self._monitor.brand_state(brand))
            self._state_saved_at[brand] = time.monotonic()
