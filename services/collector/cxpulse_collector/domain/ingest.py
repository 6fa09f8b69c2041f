"""Pure ingest rules: submissions become events with their identity, nothing else happens here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxpulse_collector.domain.privacy import mask_personal_data
from cxpulse_contracts import (
    MentionSubmission,
    SocialMention,
    SurveyResponse,
    SurveySubmission,
    event_id_for,
    pseudonymise,
)

Submission = SurveySubmission | MentionSubmission
FeedbackEvent = SurveyResponse | SocialMention


@dataclass(frozen=True, slots=True)
class TextTooLong:
    index: int
    field: str
    length: int


def overlong_texts(submissions: Sequence[Submission], *, max_chars: int) -> list[TextTooLong]:
    found = []
    for index, submission in enumerate(submissions):
        if isinstance(submission, SurveySubmission):
            field, text = "comment", submission.comment
        else:
            field, text = "text", submission.text
        if text is not None and len(text) > max_chars:
            found.append(TextTooLong(index, field, len(text)))
    return found


def brands_outside_scope(submissions: Sequence[Submission], allowed: Sequence[str]) -> list[str]:
    if "*" in allowed:
        return []
    return sorted({submission.brand for submission in submissions if submission.brand not in allowed})


def to_event(
    submission: Submission, *, source: str, channel: str, pseudonymisation_key: bytes, received_at: datetime
) -> FeedbackEvent:
    """Built without a second validation: every field comes from a validated submission or from us."""
    if isinstance(submission, SurveySubmission):
        customer_id = submission.customer_id
        return SurveyResponse.model_construct(
            event_id=event_id_for(source=source, brand=submission.brand, source_id=submission.response_id),
            source=source,
            channel=channel,
            customer_id=pseudonymise(customer_id, key=pseudonymisation_key) if customer_id else None,
            comment=mask_personal_data(submission.comment) if submission.comment else submission.comment,
            received_at=received_at,
            **_fields_except(submission, "customer_id", "comment"),
        )
    return SocialMention.model_construct(
        event_id=event_id_for(source=source, brand=submission.brand, source_id=submission.mention_id),
        source=source,
        channel=channel,
        text=mask_personal_data(submission.text),
        received_at=received_at,
        **_fields_except(submission, "text"),
    )


def _fields_except(submission: Submission, *excluded: str) -> dict[str, Any]:
    """The submission's fields as they are (nested models stay models, as `model_construct` needs)."""
    return {name: getattr(submission, name) for name in type(submission).model_fields if name not in excluded}
