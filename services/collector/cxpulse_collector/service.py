"""Accepting a request's events: claim, publish, confirm; release on failure so nothing is lost."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cxpulse_collector.adapters.claims import ClaimOutcome
from cxpulse_collector.domain.ingest import FeedbackEvent
from cxpulse_collector.metrics import CollectorMetrics
from cxpulse_contracts import topics
from cxpulse_shared.cloudevents import cloudevent_headers
from cxpulse_shared.kafka import OutgoingRecord
from cxpulse_shared.telemetry import current_trace_exemplar


class EventClaims(Protocol):
    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]: ...
    async def confirm(self, event_ids: Sequence[str], token: str) -> None: ...
    async def release(self, event_ids: Sequence[str], token: str) -> None: ...
    async def ping(self) -> bool: ...


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutgoingRecord]) -> None: ...
    async def broker_reachable(self) -> bool: ...


class EventsInFlight(Exception):
    """Another request is publishing some of these events right now; the client should retry."""


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    event_ids: list[str]


def to_record(event: FeedbackEvent, *, trace_carrier: dict[str, str]) -> OutgoingRecord:
    event_type = topics.CE_TYPE_SURVEY if event.kind == "survey" else topics.CE_TYPE_MENTION
    return OutgoingRecord(
        topic=topics.FEEDBACK,
        key=event.brand.encode(),
        value=event.model_dump_json(exclude_none=True).encode(),
        headers=cloudevent_headers(
            event_id=str(event.event_id),
            source=f"/cxpulse/collector/{event.channel}",
            event_type=event_type,
            time=event.occurred_at,
            trace_carrier=trace_carrier,
        ),
    )


class IngestService:
    def __init__(self, *, claims: EventClaims, publisher: Publisher, metrics: CollectorMetrics) -> None:
        self._claims = claims
        self._publisher = publisher
        self._metrics = metrics

    async def ingest(
        self, events: Sequence[FeedbackEvent], *, channel: str, trace_carrier: dict[str, str]
    ) -> IngestResult:
        event_ids = [str(event.event_id) for event in events]
        first_seen: dict[str, FeedbackEvent] = {}
        for event_id, event in zip(event_ids, events, strict=True):
            first_seen.setdefault(event_id, event)
        unique_ids = list(first_seen)
        token = secrets.token_hex(16)
        outcomes = await self._claims.claim(unique_ids, token)
        claimed = [
            event_id for event_id, outcome in zip(unique_ids, outcomes, strict=True) if outcome is ClaimOutcome.CLAIMED
        ]
        in_flight = any(outcome is ClaimOutcome.IN_FLIGHT for outcome in outcomes)
        if in_flight:
            await self._claims.release(claimed, token)
            raise EventsInFlight()
        records = [to_record(first_seen[event_id], trace_carrier=trace_carrier) for event_id in claimed]
        started = time.perf_counter()
        try:
            await self._publisher.publish(records)
        except BaseException:
            # Also on cancellation (client gone): an unpublished claim must never block a retry.
            await self._claims.release(claimed, token)
            raise
        finally:
            self._metrics.publish_seconds.observe(time.perf_counter() - started, exemplar=current_trace_exemplar())
        await self._claims.confirm(claimed, token)
        surveys = sum(1 for event_id in claimed if first_seen[event_id].kind == "survey")
        if surveys:
            self._metrics.events_accepted.labels(channel, "survey").inc(surveys)
        if len(claimed) > surveys:
            self._metrics.events_accepted.labels(channel, "mention").inc(len(claimed) - surveys)
        duplicates = len(events) - len(claimed)
        if duplicates:
            self._metrics.events_duplicate.labels(channel).inc(duplicates)
        return IngestResult(accepted=len(claimed), duplicates=duplicates, event_ids=event_ids)
