"""Requests of one event-loop turn are claimed, published and confirmed as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from cxpulse_collector.adapters.claims import ClaimOutcome
from cxpulse_collector.domain.ingest import FeedbackEvent, to_event
from cxpulse_collector.metrics import CollectorMetrics
from cxpulse_collector.service import EventsInFlight, IngestService
from cxpulse_contracts import SurveySubmission
from cxpulse_shared.kafka import OutgoingRecord
from cxpulse_shared.telemetry import make_registry
from tests.support.collector import InMemoryClaims, RecordingPublisher, survey


class CountingClaims(InMemoryClaims):
    def __init__(self) -> None:
        super().__init__()
        self.claim_calls = 0
        self.confirm_calls = 0

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        self.claim_calls += 1
        return await super().claim(event_ids, token)

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        self.confirm_calls += 1
        await super().confirm(event_ids, token)


class SlowPublisher(RecordingPublisher):
    """Holds every publish until the test lets the broker answer, so it can act while a batch is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.broker_answers = asyncio.Event()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        self.calls += 1
        await self.broker_answers.wait()
        await super().publish(records)


def event(response_id: str) -> FeedbackEvent:
    submission = SurveySubmission.model_validate(survey(response_id=response_id))
    return to_event(
        submission, source="tool", channel="tool", pseudonymisation_key=b"key", received_at=datetime.now(UTC)
    )


def service(claims: InMemoryClaims, publisher: RecordingPublisher) -> IngestService:
    return IngestService(claims=claims, publisher=publisher, metrics=CollectorMetrics.register(make_registry()))


def test_concurrent_requests_share_one_claim_one_publish_and_one_confirm() -> None:
    claims, publisher = CountingClaims(), SlowPublisher()
    ingest = service(claims, publisher)

    async def scenario() -> list[int]:
        requests = [
            asyncio.ensure_future(ingest.ingest([event(f"r{index}")], channel="tool", trace_carrier={}))
            for index in range(5)
        ]
        await asyncio.sleep(0.01)
        publisher.broker_answers.set()
        return [result.accepted for result in await asyncio.gather(*requests)]

    assert asyncio.run(scenario()) == [1] * 5
    assert (claims.claim_calls, publisher.calls, claims.confirm_calls) == (1, 1, 1)
    assert len(publisher.records) == 5
    assert set(claims.values.values()) == {"published"}


def test_a_request_whose_event_is_in_flight_is_refused_without_holding_up_its_batch() -> None:
    claims, publisher = InMemoryClaims(), RecordingPublisher()
    ingest = service(claims, publisher)
    held = str(event("busy").event_id)
    claims.values[held] = "pending:another-batch"

    async def scenario() -> tuple[BaseException | None, int]:
        busy = asyncio.ensure_future(ingest.ingest([event("fresh-1"), event("busy")], channel="tool", trace_carrier={}))
        free = asyncio.ensure_future(ingest.ingest([event("fresh-2")], channel="tool", trace_carrier={}))
        await asyncio.wait([busy, free])
        return busy.exception(), free.result().accepted

    refusal, accepted = asyncio.run(scenario())
    assert isinstance(refusal, EventsInFlight)
    assert accepted == 1
    assert [record.key for record in publisher.records] == [b"acme-air"]
    # The refused request's own claim is released, so its retry is accepted.
    assert str(event("fresh-1").event_id) not in claims.values
    assert claims.values[held] == "pending:another-batch"


def test_a_request_whose_client_left_still_has_its_events_published_and_confirmed() -> None:
    claims, publisher = InMemoryClaims(), SlowPublisher()
    ingest = service(claims, publisher)
    left = event("client-gone")

    async def scenario() -> int:
        request = asyncio.ensure_future(ingest.ingest([left], channel="tool", trace_carrier={}))
        await asyncio.sleep(0.01)
        request.cancel()
        publisher.broker_answers.set()
        with pytest.raises(asyncio.CancelledError):
            await request
        await asyncio.sleep(0.01)
        retry = await ingest.ingest([left], channel="tool", trace_carrier={})
        return retry.duplicates

    assert asyncio.run(scenario()) == 1
    assert len(publisher.records) == 1
    assert claims.values[str(left.event_id)] == "published"
