"""Personal data in free text is masked before it reaches Kafka; what care teams need stays."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from cxpulse_collector.domain.ingest import to_event
from cxpulse_collector.domain.privacy import luhn_valid, mask_personal_data
from cxpulse_contracts import MentionSubmission, SurveySubmission
from tests.support.collector import mention, survey


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail me at jane.doe+cx@example.co.uk please", "mail me at [email] please"),
        ("card 4111 1111 1111 1111 was charged twice", "card [card] was charged twice"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("call +44 20 7946 0958 now", "call [phone] now"),
        ("call (555) 123-4567", "call [phone]"),
        ("flight UA 907 delayed 3 hours", "flight UA 907 delayed 3 hours"),
        ("order 123456 cost $1,299.00 on 2026-11-02", "order 123456 cost $1,299.00 on 2026-11-02"),
        ("4111 1111 1111 1112 fails the Luhn check", "4111 1111 1111 1112 fails the Luhn check"),
        ("no personal data here", "no personal data here"),
    ],
)
def test_masking_rule(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_events_carry_masked_text_only() -> None:
    now = datetime.now(UTC)
    survey_event = to_event(
        SurveySubmission.model_validate(survey(comment="reach me on jane@example.com")),
        source="s",
        channel="c",
        pseudonymisation_key=b"k",
        received_at=now,
    )
    mention_event = to_event(
        MentionSubmission.model_validate(mention(text="my card 5500 0000 0000 0004 was double charged")),
        source="s",
        channel="c",
        pseudonymisation_key=b"k",
        received_at=now,
    )
    assert survey_event.comment == "reach me on [email]"
    assert "jane@example.com" not in survey_event.model_dump_json()
    assert mention_event.text == "my card [card] was double charged"


def test_crafted_text_stays_cheap() -> None:
    crafted = ("1 " * 5000) + ("a@" * 5000) + ("+(" * 5000)
    started = time.perf_counter()
    mask_personal_data(crafted)
    assert time.perf_counter() - started < 2.0  # a guard against catastrophic backtracking, not a benchmark
