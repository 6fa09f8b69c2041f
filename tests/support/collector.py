"""Building a collector app for tests: real adapters for integration, in-memory fakes for unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from cxpulse_collector.adapters.claims import ClaimOutcome
from cxpulse_collector.app import CollectorAdapters
from cxpulse_collector.config import Channel, CollectorSettings
from cxpulse_shared.kafka import OutgoingRecord, PublishFailed


def collector_settings(**overrides: Any) -> CollectorSettings:
    return CollectorSettings(pseudonymisation_key=SecretStr("test-pseudonymisation-key"), **overrides)


def channel(name: str, *secrets: str, **fields: Any) -> Channel:
    return Channel(name=name, source=fields.pop("source", f"src-{name}"), secrets=secrets, **fields)


def survey(**overrides: Any) -> dict[str, Any]:
    body = {
        "response_id": f"resp-{uuid.uuid4().hex[:12]}",
        "brand": "acme-air",
        "metric": "nps",
        "score": 3,
        "comment": "Flight delayed 3 hours, no update",
        "journey_stage": "flight",
        "customer_id": "customer-42",
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    body.update(overrides)
    return body


def mention(**overrides: Any) -> dict[str, Any]:
    body = {
        "mention_id": f"m-{uuid.uuid4().hex[:12]}",
        "brand": "acme-air",
        "platform": "x",
        "author": {"handle": "traveller", "followers": 120},
        "text": "Still waiting for my bag @acmeair",
        "url": "https://x.com/traveller/status/1",
        "engagement": {"likes": 3, "shares": 1, "replies": 0},
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    body.update(overrides)
    return body


class InMemoryClaims:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        outcomes = []
        for event_id in event_ids:
            current = self.values.get(event_id)
            if current is None:
                self.values[event_id] = f"pending:{token}"
                outcomes.append(ClaimOutcome.CLAIMED)
            elif current == "published":
                outcomes.append(ClaimOutcome.ALREADY_PUBLISHED)
            else:
                outcomes.append(ClaimOutcome.IN_FLIGHT)
        return outcomes

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        for event_id in event_ids:
            if self.values.get(event_id) == f"pending:{token}":
                self.values[event_id] = "published"

    async def release(self, event_ids: Sequence[str], token: str) -> None:
        for event_id in event_ids:
            if self.values.get(event_id) == f"pending:{token}":
                del self.values[event_id]

    async def ping(self) -> bool:
        return True


class RecordingPublisher:
    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []
        self.failing = False

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if self.failing:
            raise PublishFailed("broker down (test)")
        self.records.extend(records)

    async def broker_reachable(self) -> bool:
        return not self.failing


class NoRateLimit:
    async def wait_seconds(self, key: str, *, per_second: float, burst: int) -> float:
        return 0.0


def fake_adapters() -> tuple[CollectorAdapters, InMemoryClaims, RecordingPublisher]:
    claims, publisher = InMemoryClaims(), RecordingPublisher()
    return (
        CollectorAdapters(claims=claims, publisher=publisher, rate_limiter=NoRateLimit()),
        claims,
        publisher,
    )
