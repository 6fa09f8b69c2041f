"""Erasing an author from incident evidence: samples, signal details and the post addresses they share."""

from __future__ import annotations

from datetime import UTC, datetime

from cxpulse_alerts.domain.incidents import Incident, Routing, SampleMention, Signal, erase_author

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ALICE_POST = "https://x.com/Alice_Example/status/1"


def incident_with_evidence() -> Incident:
    influencer = Signal(
        "influencer_detractor",
        "acme-air",
        0.8,
        NOW,
        details={"url": ALICE_POST, "author": "Alice_Example"},
    )
    viral = Signal("viral_complaint", "acme-air", 0.7, NOW, stage="support", details={"url": ALICE_POST})
    volume = Signal("volume_spike", "acme-air", 0.9, NOW, details={"z": 4.2})
    return Incident(
        id="inc-acme-air-1",
        brand="acme-air",
        fingerprint="acme-air:crisis",
        status="open",
        severity=4,
        crisis_risk=0.9,
        opened_at=NOW,
        updated_at=NOW,
        last_signal_at=NOW,
        signals={signal.key: signal for signal in (influencer, viral, volume)},
        routing=Routing(teams=("care",), receivers=("care-log",)),
        samples=(
            SampleMention("lost my bag again", ALICE_POST, "Alice_Example", 250_000),
            SampleMention("still waiting for a refund", "https://x.com/bob/status/2", "bob", 900),
        ),
    )


def test_the_authors_samples_and_every_detail_naming_them_or_their_post_go() -> None:
    erased, evidence = erase_author(incident_with_evidence(), "alice_example")
    assert [sample.author for sample in erased.samples] == ["bob"]
    assert (evidence.samples, evidence.signal_details) == (1, 2)
    details = [dict(signal.details) for signal in erased.signals.values()]
    assert details == [{}, {}, {"z": 4.2}]
    assert "alice" not in repr(erased).lower()


def test_everything_else_about_the_incident_stays() -> None:
    original = incident_with_evidence()
    erased, _ = erase_author(original, "ALICE_EXAMPLE")
    assert set(erased.signals) == set(original.signals)
    assert [signal.score for signal in erased.signals.values()] == [
        signal.score for signal in original.signals.values()
    ]
    assert (erased.severity, erased.crisis_risk, erased.routing, erased.version) == (
        original.severity,
        original.crisis_risk,
        original.routing,
        original.version,
    )


def test_an_author_with_no_evidence_leaves_the_incident_as_it_was() -> None:
    original = incident_with_evidence()
    erased, evidence = erase_author(original, "carol")
    assert erased is original
    assert not evidence.any


def test_erasing_twice_finds_nothing_the_second_time() -> None:
    once, _ = erase_author(incident_with_evidence(), "alice_example")
    twice, evidence = erase_author(once, "alice_example")
    assert twice is once
    assert not evidence.any
