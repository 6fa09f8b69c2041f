"""What the incident engine hands to delivery: one notification for one receiver."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NotificationAction = Literal["trigger", "update", "escalate", "acknowledge", "resolve"]


class SampleMention(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    url: str
    author: str
    reach: int


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    baseline: float | None = None
    observed: float | None = None
    detectors: list[str] = []
    top_terms: list[str] = []
    sample_mentions: list[SampleMention] = []
    total_reach: int = 0
    stages: list[str] = []
    topics: list[str] = []
    details: dict[str, Any] = {}


class Notification(BaseModel):
    """`idempotency_key` is unique per (incident, revision, receiver): a retry never duplicates."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    receiver: str
    incident_id: str
    fingerprint: str = Field(description="stable per incident: PagerDuty's dedup_key, Alertmanager's labels")
    action: NotificationAction
    brand: str
    severity: int = Field(ge=1, le=5)
    crisis_risk: float = Field(ge=0, le=1)
    title: str
    summary: str
    teams: list[str]
    evidence: Evidence
    incident_url: str | None = None
    occurred_at: datetime
    traceparent: str | None = Field(default=None, description="W3C trace context of the feedback that tipped it")
