"""The incident engine: grouping, severity, inhibition, lifecycle, Alertmanager timing, silences."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cxpulse_alerts.domain.incidents import (
    Change,
    EngineSettings,
    Incident,
    IncidentEngine,
    IncidentStateError,
    Routing,
    SampleMention,
    Signal,
    Silence,
    crisis_risk,
    severity_for,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROUTING = Routing(
    teams=("care",),
    receivers=("care-slack", "care-pagerduty"),
    escalation_receivers=("leads",),
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=4),
    acknowledge_within=timedelta(minutes=15),
)


def route(labels: Mapping[str, Any]) -> Routing:
    return ROUTING


def engine(**settings: Any) -> IncidentEngine:
    return IncidentEngine(route=route, settings=EngineSettings(**settings))


def signal(detector: str = "volume_spike", score: float = 0.8, brand: str = "acme-air", **fields: Any) -> Signal:
    return Signal(detector=detector, brand=brand, score=score, at=T0, **fields)


def opened(*signals: Signal, at: datetime = T0) -> Incident:
    changes = engine().fold({}, list(signals), now=at)
    assert [change.type for change in changes] == ["opened"]
    return changes[0].incident


def test_weak_signals_open_nothing() -> None:
    assert engine(open_threshold=0.5).fold({}, [signal(score=0.49)], now=T0) == []


def test_signals_of_one_brand_fold_into_one_incident() -> None:
    first = opened(signal("volume_spike"))
    changes = engine().fold({first.fingerprint: first}, [signal("swing_to_negative", stage="baggage")], now=T0)
    assert [change.type for change in changes] == ["updated"]
    folded = changes[0].incident
    assert folded.id == first.id
    assert set(folded.signals) == {"volume_spike@*", "swing_to_negative@stage:baggage"}
    assert folded.stages == ("baggage",)


def test_other_brands_get_their_own_incident() -> None:
    acme = opened(signal(brand="acme-air"))
    other = engine().fold({acme.fingerprint: acme}, [signal(brand="globex-air")], now=T0)
    assert other[0].type == "opened"
    assert other[0].incident.id != acme.id


def test_one_post_is_one_piece_of_evidence_and_independent_families_compound() -> None:
    influencer = signal("influencer_detractor", score=0.9)
    viral = signal("viral_complaint", score=0.9)
    assert crisis_risk([influencer, viral]) == crisis_risk([influencer])
    assert crisis_risk([influencer, signal("volume_spike", 0.9)]) > crisis_risk([signal("volume_spike", 0.9)])
    assert 0 <= crisis_risk([signal(score=0.999)] * 5) < 1


@pytest.mark.parametrize(("risk", "severity"), [(0.0, 1), (0.19, 1), (0.2, 2), (0.59, 3), (0.6, 4), (0.99, 5)])
def test_severity_steps(risk: float, severity: int) -> None:
    assert severity_for(risk) == severity


def test_inhibition_brand_wide_finding_mutes_its_per_stage_twins() -> None:
    brand_wide = opened(signal("swing_to_negative", 0.8))
    with_stage = (
        engine()
        .fold({brand_wide.fingerprint: brand_wide}, [signal("swing_to_negative", 0.8, stage="baggage")], now=T0)[0]
        .incident
    )
    assert with_stage.crisis_risk == brand_wide.crisis_risk


def test_evidence_keeps_the_largest_samples_and_adds_reach() -> None:
    samples = [SampleMention(text=f"t{i}", url=f"https://x.com/a/{i}", author="a", reach=i) for i in range(9)]
    incident = engine().fold({}, [signal()], now=T0, samples=samples, top_terms=["guitar"], reach=500)[0].incident
    assert [sample.reach for sample in incident.samples] == [8, 7, 6, 5, 4]
    assert incident.top_terms == ("guitar",)
    assert incident.total_reach == 500


def test_first_notification_waits_for_group_wait_and_is_keyed_by_transition() -> None:
    incident = opened(signal())
    _, too_early = engine().due_notifications(incident, now=T0 + timedelta(seconds=29))
    assert too_early == []
    notified, intents = engine().due_notifications(incident, now=T0 + timedelta(seconds=30))
    assert [(intent.action, intent.key) for intent in intents] == [("trigger", f"{incident.id}:trigger")]
    assert intents[0].receivers == ROUTING.receivers
    assert engine().due_notifications(notified, now=T0 + timedelta(minutes=1))[1] == []


def test_a_worse_incident_is_notified_again_only_after_group_interval() -> None:
    incident = opened(signal(score=0.55))
    notified, _ = engine().due_notifications(incident, now=T0 + timedelta(seconds=30))
    worse = (
        engine()
        .fold({notified.fingerprint: notified}, [signal("swing_to_negative", 0.95), signal("velocity", 0.9)], now=T0)[0]
        .incident
    )
    assert worse.severity > notified.severity
    assert engine().due_notifications(worse, now=T0 + timedelta(minutes=4))[1] == []
    _, intents = engine().due_notifications(worse, now=T0 + timedelta(minutes=6))
    assert [intent.action for intent in intents] == ["update"]


def test_unchanged_incident_repeats_after_repeat_interval() -> None:
    notified, _ = engine().due_notifications(opened(signal()), now=T0 + timedelta(seconds=30))
    _, intents = engine().due_notifications(notified, now=T0 + timedelta(hours=4, minutes=1))
    assert [intent.action for intent in intents] == ["update"]


def test_unacknowledged_incident_escalates_to_the_escalation_receivers() -> None:
    notified, _ = engine().due_notifications(opened(signal(score=0.55)), now=T0 + timedelta(seconds=30))
    changes = engine().tick(notified, now=T0 + timedelta(minutes=16), silences=[])
    assert [change.type for change in changes] == ["escalated"]
    escalated = changes[0].incident
    assert escalated.severity == notified.severity + 1
    _, intents = engine().due_notifications(escalated, now=T0 + timedelta(minutes=16))
    assert ("escalate", ("leads",)) in [(intent.action, intent.receivers) for intent in intents]


def test_acknowledged_incident_does_not_escalate_and_tells_receivers() -> None:
    notified, _ = engine().due_notifications(opened(signal()), now=T0 + timedelta(seconds=30))
    acknowledged = engine().acknowledge(notified, actor="care", now=T0 + timedelta(minutes=2)).incident
    assert acknowledged.acknowledged_by == "care"
    assert engine().tick(acknowledged, now=T0 + timedelta(minutes=20), silences=[]) == []
    _, intents = engine().due_notifications(acknowledged, now=T0 + timedelta(minutes=2))
    assert [intent.action for intent in intents] == ["acknowledge"]
    with pytest.raises(IncidentStateError):
        engine().acknowledge(acknowledged, actor="care", now=T0)


def test_quiet_incident_auto_resolves_and_only_a_notified_one_sends_a_resolve() -> None:
    quiet = engine(resolve_after=timedelta(minutes=30))
    never_notified = opened(signal())
    resolved = quiet.tick(never_notified, now=T0 + timedelta(minutes=31), silences=[])
    assert [change.type for change in resolved] == ["resolved"]
    assert quiet.due_notifications(resolved[0].incident, now=T0 + timedelta(minutes=31))[1] == []
    notified, _ = quiet.due_notifications(opened(signal()), now=T0 + timedelta(seconds=30))
    closed = quiet.tick(notified, now=T0 + timedelta(minutes=31), silences=[])[0].incident
    _, intents = quiet.due_notifications(closed, now=T0 + timedelta(minutes=31))
    assert [intent.action for intent in intents] == ["resolve"]
    assert quiet.tick(closed, now=T0 + timedelta(hours=1), silences=[]) == []


def test_a_silence_keeps_an_incident_quiet_for_its_time_range_only() -> None:
    incident = opened(signal(stage="baggage"))
    silence = Silence(
        id="sil-1",
        matchers={"brand": "acme-air", "stage": "baggage"},
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_by="care",
        comment="known outage",
    )
    changes: list[Change] = engine().tick(incident, now=T0 + timedelta(seconds=31), silences=[silence])
    assert [change.type for change in changes] == ["silenced"]
    silenced = changes[0].incident
    assert engine().due_notifications(silenced, now=T0 + timedelta(seconds=31))[1] == []
    other_brand = Silence(
        id="sil-2",
        matchers={"brand": "globex-air"},
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_by="care",
        comment="-",
    )
    assert not other_brand.covers(incident, T0 + timedelta(minutes=1))
    assert not silence.covers(incident, T0 + timedelta(hours=2))


def test_replaying_the_same_signals_changes_nothing() -> None:
    incident = opened(signal(), signal("velocity", 0.7))
    again = engine().fold({incident.fingerprint: incident}, [signal(), signal("velocity", 0.7)], now=T0)
    assert again == []
