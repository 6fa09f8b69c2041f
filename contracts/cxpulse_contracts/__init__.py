"""cxpulse event contracts: pydantic models, identity rules and topic names."""

from cxpulse_contracts.events import (
    AlertEvent,
    Author,
    DeadLetter,
    Engagement,
    FeedbackEvent,
    MentionSubmission,
    ScoredFeedback,
    Sentiment,
    SocialMention,
    SurveyResponse,
    SurveySubmission,
)
from cxpulse_contracts.identity import event_id_for, pseudonymise

__all__ = [
    "AlertEvent",
    "Author",
    "DeadLetter",
    "Engagement",
    "FeedbackEvent",
    "MentionSubmission",
    "ScoredFeedback",
    "Sentiment",
    "SocialMention",
    "SurveyResponse",
    "SurveySubmission",
    "event_id_for",
    "pseudonymise",
]
