"""The events every cxpulse service shares: the source of truth for JSON Schema and AsyncAPI.

Consumers parse events leniently (unknown fields are ignored) so that a producer may add
fields without breaking older readers; submissions from channels are strict, so a typo in a
field name is a clear 422 instead of silently lost data.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["acme-air"])]
SourceId = Annotated[str, Field(min_length=1, max_length=200)]
Metric = Literal["nps", "csat", "ces"]
_AWARE_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
_NUMBER_AS_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _date_time_text_only(value: object) -> object:
    """pydantic reads a number, or a string of one, as Unix time even in strict mode, so "0" would
    become 1970-01-01; the schema promises an RFC 3339 date-time, and a channel gets a 422.

    The text is parsed here, by pydantic's own lax parser: after a function validator the strict
    one would take only datetime objects."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER_AS_TEXT.fullmatch(value)):
        raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2026-11-20T10:00:00Z")
    if isinstance(value, str):
        return _AWARE_DATETIME.validate_python(value, strict=False)
    return value


SubmittedDateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text_only)]
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def check_score_range(metric: str, score: int) -> None:
    low, high = SCORE_RANGES[metric]
    if not low <= score <= high:
        raise ValueError(f"{metric} score must be between {low} and {high}, got {score}")


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Submission(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Author(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    handle: Annotated[str, Field(min_length=1, max_length=200)]
    followers: Annotated[int, Field(ge=0)] = 0


class Engagement(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    likes: Annotated[int, Field(ge=0)] = 0
    shares: Annotated[int, Field(ge=0)] = 0
    replies: Annotated[int, Field(ge=0)] = 0


class SurveySubmission(_Submission):
    """A survey answer as a channel posts it to `POST /v1/surveys`."""

    response_id: SourceId
    brand: Slug
    metric: Metric
    score: int
    comment: str | None = None
    journey_stage: Slug
    customer_id: Annotated[str | None, Field(max_length=200)] = None
    language: Annotated[str | None, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = None
    occurred_at: SubmittedDateTime

    @field_validator("score")
    @classmethod
    def _score_in_metric_range(cls, score: int, info: ValidationInfo) -> int:
        metric = info.data.get("metric")
        if metric is not None:
            check_score_range(metric, score)
        return score


class MentionSubmission(_Submission):
    """A social mention as a listening feed posts it to `POST /v1/mentions`."""

    mention_id: SourceId
    brand: Slug
    platform: Slug
    author: Author
    text: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)]
    engagement: Engagement = Engagement()
    language: Annotated[str | None, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = None
    occurred_at: SubmittedDateTime


class SurveyResponse(_Event):
    """`cx.feedback.v1` value for a survey answer; `customer_id` is already pseudonymised."""

    kind: Literal["survey"] = "survey"
    event_id: UUID
    source: str
    channel: str
    response_id: str
    brand: str
    metric: Metric
    score: int
    comment: str | None = None
    journey_stage: str
    customer_id: str | None = None
    language: str | None = None
    occurred_at: datetime
    received_at: datetime


class SocialMention(_Event):
    """`cx.feedback.v1` value for a social media mention."""

    kind: Literal["mention"] = "mention"
    event_id: UUID
    source: str
    channel: str
    mention_id: str
    brand: str
    platform: str
    author: Author
    text: str
    url: str
    engagement: Engagement = Engagement()
    language: str | None = None
    occurred_at: datetime
    received_at: datetime


FeedbackEvent = Annotated[SurveyResponse | SocialMention, Field(discriminator="kind")]


class Sentiment(_Event):
    label: Literal["positive", "neutral", "negative", "unsupported"]
    score: Annotated[float, Field(ge=-1.0, le=1.0)]
    basis: Literal["text", "score"]


class ScoredFeedback(_Event):
    """`cx.feedback.scored.v1` value: the original event, unchanged, with what the scorer derived."""

    event: FeedbackEvent
    sentiment: Sentiment
    journey_stage: str
    stage_basis: Literal["given", "inferred"]
    topics: list[str] = []
    reach: Annotated[int, Field(ge=0)] = 0
    pnl: dict[str, float] = {}
    model_version: str
    scored_at: datetime


AlertEventType = Literal["opened", "updated", "escalated", "acknowledged", "resolved", "silenced", "notified"]


class AlertEvent(_Event):
    """`cx.alerts.v1` value: one change in an incident's life."""

    event_id: UUID
    type: AlertEventType
    incident_id: str
    brand: str
    severity: Annotated[int, Field(ge=1, le=5)]
    crisis_risk: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    summary: str
    stages: list[str] = []
    teams: list[str] = []
    receivers: list[str] = []
    actor: str | None = None
    occurred_at: datetime


class DeadLetter(_Event):
    """`cx.feedback.dlq.v1` value: a message a consumer could not decode, kept for operators."""

    topic: str
    partition: int
    offset: int
    reason: str
    value_base64: str
    headers: dict[str, str] = {}
    consumer_group: str
    occurred_at: datetime
