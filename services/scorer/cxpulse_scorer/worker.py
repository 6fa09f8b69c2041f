"""Effectively-once scoring: aggregates first (idempotent), then output and offsets in one transaction.

Order matters. Redis is updated before the Kafka transaction commits, and each event is applied
at most once (by `event_id`), so a crash anywhere replays the batch without double counting;
were Redis updated after the commit, a crash in between would lose counts. If Redis refuses a
write (down, or full under `noeviction`) nothing is committed and the batch is read again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import TypeAdapter, ValidationError

from cxpulse_contracts import FeedbackEvent, topics
from cxpulse_scorer.adapters.aggregates import DUPLICATE, RedisAggregates
from cxpulse_scorer.domain.scoring import FeedbackScorer
from cxpulse_shared.cloudevents import cloudevent_headers
from cxpulse_shared.consumer import consumer_lag
from cxpulse_shared.dead_letters import dead_letter

logger = logging.getLogger(__name__)
GROUP = "cx-scorer"
TRACE_HEADERS = ("traceparent", "tracestate")
_feedback_event: TypeAdapter[Any] = TypeAdapter(FeedbackEvent)


@dataclass(frozen=True)
class ScorerMetrics:
    events: Counter
    dead_letters: Counter
    transactions: Counter
    batch_seconds: Histogram
    lag: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ScorerMetrics:
        metrics = cls(
            events=Counter("cx_scorer_events", "Feedback events by outcome", ["outcome"], registry=registry),
            dead_letters=Counter("cx_scorer_dead_letters", "Undecodable messages sent to the DLQ", registry=registry),
            transactions=Counter(
                "cx_scorer_transactions", "Kafka transactions by result", ["result"], registry=registry
            ),
            batch_seconds=Histogram(
                "cx_scorer_batch_seconds",
                "Time to score, aggregate and commit one polled batch",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                registry=registry,
            ),
            lag=Gauge(
                "cx_scorer_consumer_lag",
                "Records behind the log end, summed over assigned partitions",
                registry=registry,
            ),
        )
        # Every outcome exists from the start at 0, so ratios over them are 0 rather than empty.
        for outcome in ("scored", "duplicate"):
            metrics.events.labels(outcome)
        for result in ("committed", "aborted"):
            metrics.transactions.labels(result)
        return metrics


def source_position(record: Any) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}"


class ScoringPipeline:
    def __init__(
        self,
        *,
        scorer: FeedbackScorer,
        aggregates: RedisAggregates,
        producer_factory: Callable[[], KafkaProducer],
        metrics: ScorerMetrics,
        tracer: Tracer,
        consumer_group: str,
    ) -> None:
        self._scorer = scorer
        self._aggregates = aggregates
        self._producer_factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._metrics = metrics
        self._tracer = tracer
        self._consumer_group = consumer_group

    def producer(self) -> KafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            producer.init_transactions()
            self._producer = producer
        return self._producer

    def discard_producer(self) -> None:
        """After a failed transaction the producer may be fenced or in an error state: start afresh."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:
                logger.exception("closing a failed transactional producer")
            self._producer = None

    def close(self) -> None:
        self.discard_producer()

    def handle(self, consumer: KafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        started = time.perf_counter()
        records = [record for partition in sorted(batch) for record in batch[partition]]
        events, event_records, dead = self._decode(records)
        spans, carriers = self._start_spans(event_records)
        try:
            self._score_and_commit(consumer, batch, events, event_records, carriers, dead)
        except BaseException as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()
            raise
        for span in spans:
            span.end()
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._metrics.lag.set(consumer_lag(consumer))

    def _score_and_commit(
        self,
        consumer: KafkaConsumer,
        batch: dict[Any, list[Any]],
        events: list[Any],
        event_records: list[Any],
        carriers: list[dict[str, str]],
        dead: list[tuple[Any, str]],
    ) -> None:
        scored = self._scorer.score_batch(events, scored_at=datetime.now(UTC))
        outcomes = self._aggregates.apply(
            [(item.contribution, source_position(record)) for item, record in zip(scored, event_records, strict=True)]
        )
        producer = self.producer()
        producer.begin_transaction()
        try:
            for item, record, outcome, carrier in zip(scored, event_records, outcomes, carriers, strict=True):
                if outcome == DUPLICATE:
                    self._metrics.events.labels("duplicate").inc()
                    continue
                producer.send(
                    topics.SCORED,
                    key=record.key,
                    value=item.scored.model_dump_json(exclude_none=True).encode(),
                    headers=cloudevent_headers(
                        event_id=item.contribution.event_id,
                        source="/cxpulse/scorer",
                        event_type=topics.CE_TYPE_SCORED,
                        time=item.scored.scored_at,
                        trace_carrier=carrier,
                    ),
                )
            for record, reason in dead:
                letter = dead_letter(record, reason=reason, consumer_group=GROUP)
                producer.send(
                    topics.DEAD_LETTERS,
                    key=record.key,
                    value=letter.model_dump_json().encode(),
                    headers=record.headers or [],
                )
            producer.send_offsets_to_transaction(self._next_offsets(batch), consumer.group_metadata())
            producer.commit_transaction()
        except BaseException:
            self._metrics.transactions.labels("aborted").inc()
            try:
                producer.abort_transaction()
            except Exception:
                logger.exception("abort after a failed transaction")
            self.discard_producer()
            raise
        self._metrics.transactions.labels("committed").inc()
        applied = sum(1 for outcome in outcomes if outcome != DUPLICATE)
        self._metrics.events.labels("scored").inc(applied)
        self._metrics.dead_letters.inc(len(dead))

    def _decode(self, records: Sequence[Any]) -> tuple[list[Any], list[Any], list[tuple[Any, str]]]:
        events, event_records, dead = [], [], []
        for record in records:
            try:
                events.append(_feedback_event.validate_json(record.value or b""))
                event_records.append(record)
            except ValidationError as error:
                dead.append((record, f"not a feedback event: {error.errors(include_url=False)[:5]}"))
        return events, event_records, dead

    def _start_spans(self, records: Sequence[Any]) -> tuple[list[Span], list[dict[str, str]]]:
        """One consumer span per trace in the batch, child of the collector's request span.

        Its context rides on the scored records, so the alerts service continues the same trace.
        Records of one collector request share a trace, so a batch opens few spans.
        """
        opened: dict[bytes | None, tuple[Span, dict[str, str]]] = {}
        records_per_span: dict[bytes | None, int] = {}
        carriers = []
        for record in records:
            incoming = dict(record.headers or [])
            parent = incoming.get("traceparent")
            if parent not in opened:
                span = self._tracer.start_span(
                    f"{topics.FEEDBACK} process",
                    context=propagate.extract(
                        {name: incoming[name].decode() for name in TRACE_HEADERS if name in incoming}
                    ),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation.type": "process",
                        "messaging.operation.name": "process",
                        "messaging.destination.name": topics.FEEDBACK,
                        "messaging.consumer.group.name": self._consumer_group,
                    },
                )
                carrier: dict[str, str] = {}
                propagate.inject(carrier, context=trace.set_span_in_context(span))
                opened[parent] = (span, carrier)
            records_per_span[parent] = records_per_span.get(parent, 0) + 1
            carriers.append(opened[parent][1])
        for parent, (span, _) in opened.items():
            span.set_attribute("messaging.batch.message_count", records_per_span[parent])
        return [span for span, _ in opened.values()], carriers

    @staticmethod
    def _next_offsets(batch: dict[Any, list[Any]]) -> dict[TopicPartition, OffsetAndMetadata]:
        return {
            TopicPartition(partition.topic, partition.partition): OffsetAndMetadata(records[-1].offset + 1, "", -1)
            for partition, records in batch.items()
            if records
        }
