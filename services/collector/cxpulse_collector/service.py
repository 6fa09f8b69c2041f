"""Accepting a request's events: claim, publish, confirm; release on failure so nothing is lost."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class _Request:
    """One request's events on their way through a batch, and the answer it waits for."""

    events: Sequence[FeedbackEvent]
    channel: str
    trace_carrier: dict[str, str]
    answer: asyncio.Future[IngestResult]
    event_ids: list[str] = field(init=False)
    first_seen: dict[str, FeedbackEvent] = field(init=False)
    claimed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.event_ids = [str(event.event_id) for event in self.events]
        self.first_seen = {}
        for event_id, event in zip(self.event_ids, self.events, strict=True):
            self.first_seen.setdefault(event_id, event)

    def resolve(self, result: IngestResult | BaseException) -> None:
        # A request whose client left stops waiting; its events still go through with the batch.
        if self.answer.done():
            return
        if isinstance(result, asyncio.CancelledError):
            self.answer.cancel()
        elif isinstance(result, BaseException):
            self.answer.set_exception(result)
        else:
            self.answer.set_result(result)


class IngestService:
    """Claims, publishes and confirms the events of all requests that arrive in one turn of the
    event loop together: one claim, one publish and one confirm per batch.

    Each step of a request's own coroutine resumes some 30 frames of middleware and routing, and
    per-request steps cost the collector over a third of its throughput (measured); a request now
    suspends once, for its answer. A request whose client leaves does not stop its batch, so an
    event is never both published and released: a retry is told "duplicate", not published twice.
    """

    def __init__(self, *, claims: EventClaims, publisher: Publisher, metrics: CollectorMetrics) -> None:
        self._claims = claims
        self._publisher = publisher
        self._metrics = metrics
        self._arrived: list[_Request] = []
        self._running: set[asyncio.Future[None]] = set()

    async def ingest(
        self, events: Sequence[FeedbackEvent], *, channel: str, trace_carrier: dict[str, str]
    ) -> IngestResult:
        answer: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        if not self._arrived:
            # A new task's first step runs on the loop's next turn, after every request of this turn.
            batch = asyncio.ensure_future(self._take_batch())
            self._running.add(batch)  # the loop keeps only weak references to tasks
            batch.add_done_callback(self._running.discard)
        self._arrived.append(_Request(events, channel, trace_carrier, answer))
        return await answer

    async def _take_batch(self) -> None:
        batch, self._arrived = self._arrived, []
        try:
            await self._claim_publish_confirm(batch)
        except asyncio.CancelledError as cancelled:
            for request in batch:
                request.resolve(cancelled)
            raise
        except Exception as error:
            # Each request answers for it (503); nobody awaits this task, so it ends quietly.
            for request in batch:
                request.resolve(error)

    async def _claim_publish_confirm(self, batch: list[_Request]) -> None:
        token = secrets.token_hex(16)
        unique_ids = [event_id for request in batch for event_id in request.first_seen]
        outcomes = iter(await self._claims.claim(unique_ids, token))
        publishing: list[_Request] = []
        refused: list[str] = []
        for request in batch:
            own = [(event_id, next(outcomes)) for event_id in request.first_seen]
            request.claimed = [event_id for event_id, outcome in own if outcome is ClaimOutcome.CLAIMED]
            if any(outcome is ClaimOutcome.IN_FLIGHT for _, outcome in own):
                refused.extend(request.claimed)
                request.resolve(EventsInFlight())
            else:
                publishing.append(request)
        if refused:
            await self._claims.release(refused, token)
        claimed = [event_id for request in publishing for event_id in request.claimed]
        records = [
            to_record(request.first_seen[event_id], trace_carrier=request.trace_carrier)
            for request in publishing
            for event_id in request.claimed
        ]
        if records:
            started = time.perf_counter()
            try:
                await self._publisher.publish(records)
            except BaseException:
                # Also on cancellation (shutdown): an unpublished claim must never block a retry.
                await self._claims.release(claimed, token)
                raise
            finally:
                # The batch's first request made this task, so its trace is the exemplar.
                elapsed_s = time.perf_counter() - started
                self._metrics.publish_seconds.observe(elapsed_s, exemplar=current_trace_exemplar())
            await self._claims.confirm(claimed, token)
        for request in publishing:
            request.resolve(self._count(request))

    def _count(self, request: _Request) -> IngestResult:
        surveys = sum(1 for event_id in request.claimed if request.first_seen[event_id].kind == "survey")
        if surveys:
            self._metrics.events_accepted.labels(request.channel, "survey").inc(surveys)
        if len(request.claimed) > surveys:
            self._metrics.events_accepted.labels(request.channel, "mention").inc(len(request.claimed) - surveys)
        duplicates = len(request.events) - len(request.claimed)
        if duplicates:
            self._metrics.events_duplicate.labels(request.channel).inc(duplicates)
        return IngestResult(accepted=len(request.claimed), duplicates=duplicates, event_ids=request.event_ids)
