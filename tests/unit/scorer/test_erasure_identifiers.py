"""Which stored identifiers an erasure request reaches: the collector's pseudonym, an author, a pseudonym."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxpulse_collector.domain.ingest import to_event
from cxpulse_contracts import SurveyResponse, SurveySubmission
from cxpulse_contracts.erasure import PseudonymisationKeyMissing, erasure_target, parse_author

KEY = b"unit-test-pseudonymisation-key"


def collector_pseudonym(customer_id: str, key: bytes = KEY) -> str:
    submission = SurveySubmission(
        response_id="r-1",
        brand="acme-air",
        metric="nps",
        score=3,
        journey_stage="support",
        customer_id=customer_id,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    event = to_event(submission, source="unit", channel="unit", pseudonymisation_key=key, received_at=datetime.now(UTC))
    assert isinstance(event, SurveyResponse)
    assert event.customer_id is not None
    return event.customer_id


def test_a_raw_customer_id_reaches_the_pseudonym_the_collector_stored() -> None:
    target = erasure_target("crm-0042", pseudonymisation_key=KEY)
    assert target.identifiers == (collector_pseudonym("crm-0042"),)
    assert target.readings == ("customer_id",)
    assert collector_pseudonym("crm-0042", key=b"another-key") not in target.identifiers


def test_surrounding_whitespace_is_ignored_as_the_collector_ignores_it() -> None:
    assert erasure_target("  crm-0042 ", pseudonymisation_key=KEY).identifiers == (collector_pseudonym("crm-0042"),)


def test_an_author_is_erased_in_the_scorers_form_and_as_a_customer_id_too() -> None:
    target = erasure_target("X:Alice_Example", pseudonymisation_key=KEY)
    assert target.author == ("x", "Alice_Example")
    assert target.readings == ("author", "customer_id")
    assert target.identifiers[0] == "x:alice_example"


def test_a_pseudonym_is_erased_as_given() -> None:
    pseudonym = collector_pseudonym("crm-7")
    target = erasure_target(pseudonym, pseudonymisation_key=None)
    assert target.identifiers == (pseudonym,)
    assert target.readings == ("pseudonym",)


def test_without_the_key_a_raw_id_is_refused_rather_than_silently_missed() -> None:
    with pytest.raises(PseudonymisationKeyMissing):
        erasure_target("crm-0042", pseudonymisation_key=None)
    assert erasure_target("x:alice", pseudonymisation_key=None).readings == ("author",)


@pytest.mark.parametrize("bad", ["", "   ", "crm\n42", "a" * 301, "bell\x07"])
def test_ids_that_name_nobody_are_invalid(bad: str) -> None:
    with pytest.raises(ValueError, match="printable"):
        erasure_target(bad, pseudonymisation_key=KEY)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("x:alice", ("x", "alice")),
        ("reddit:Some.User-1", ("reddit", "Some.User-1")),
        ("crm-0042", None),
        ("x:", None),
        ("x: alice", None),
        ("https://x.com/alice", None),
    ],
)
def test_author_form(given: str, expected: tuple[str, str] | None) -> None:
    assert parse_author(given) == expected
