"""The live signal monitor: interval readings, per-mention signals, and pages that never repeat."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cxpulse_alerts.domain.detectors import LIVE_ALERT_THRESHOLD
from cxpulse_alerts.domain.monitor import MonitorSettings, SignalMonitor
from cxpulse_contracts import Author, Engagement, ScoredFeedback, Sentiment, SocialMention

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def scored_mention(
    at: datetime, *, label: str = "neutral", followers: int = 200, shares: int = 0, author: str | None = None
) -> ScoredFeedback:
    event = SocialMention(
        event_id=uuid.uuid4(),
        source="t",
        channel="t",
        mention_id=uuid.uuid4().hex,
        brand="acme-air",
        platform="x",
        author=Author(handle=author or uuid.uuid4().hex[:8], followers=followers),
        text="where is my bag",
        url="https://x.com/a/status/1",
        engagement=Engagement(shares=shares),
        occurred_at=at,
        received_at=at,
    )
    return ScoredFeedback(
        event=event,
        sentiment=Sentiment(label=label, score=-0.8 if label == "negative" else 0.0, basis="text"),  # type: ignore[arg-type]
        journey_stage="unknown",
        stage_basis="inferred",
        reach=followers,
        model_version="t",
        scored_at=at,
    )


def quiet_then_surge(monitor: SignalMonitor, *, days: int = 3) -> list[float]:
    """Two mentions per 5 minutes for days, then a tenfold surge; the volume scores, in order."""
    scores: list[float] = []
    moment = T0
    for _ in range(days * 288):
        batch = [scored_mention(moment + timedelta(seconds=s)) for s in (10, 200)]
        scores += [s.score for f in monitor.observe(batch).values() for s in f.signals if s.detector == "volume_spike"]
        moment += timedelta(minutes=5)
    for _ in range(36):
        batch = [scored_mention(moment + timedelta(seconds=10 * s), label="negative") for s in range(25)]
        scores += [s.score for f in monitor.observe(batch).values() for s in f.signals if s.detector == "volume_spike"]
        moment += timedelta(minutes=5)
    return scores


def test_a_surge_pages_once_and_the_cooldown_never_pages_again() -> None:
    scores = quiet_then_surge(SignalMonitor(MonitorSettings(volume_warmup=timedelta(days=2))))
    pages = [score for score in scores if score >= LIVE_ALERT_THRESHOLD]
    assert len(pages) == 1
    held = scores[scores.index(pages[0]) + 1 :]
    assert held
    assert all(score < LIVE_ALERT_THRESHOLD for score in held)


def test_an_influencer_complaint_and_a_viral_one_are_signals_at_once() -> None:
    monitor = SignalMonitor(MonitorSettings(influencer_followers=100_000, viral_shares=200))
    findings = monitor.observe(
        [
            scored_mention(T0, label="negative", followers=2_000_000),
            scored_mention(T0, label="negative", shares=5_000),
            scored_mention(T0, label="positive", followers=5_000_000),
        ]
    )["acme-air"]
    detectors = sorted(signal.detector for signal in findings.signals)
    assert detectors == ["influencer_detractor", "viral_complaint"]
    assert all(signal.score >= LIVE_ALERT_THRESHOLD for signal in findings.signals)
    assert findings.samples[0].reach == 2_000_000


def test_a_quiet_brand_does_not_page_on_noise() -> None:
    monitor = SignalMonitor(MonitorSettings(volume_warmup=timedelta(hours=1)))
    moment = T0
    signals = []
    for step in range(2 * 288):
        count = 3 if step % 7 == 0 else step % 2
        batch = [scored_mention(moment + timedelta(seconds=s), label="negative") for s in range(count)]
        signals += [s for f in monitor.observe(batch).values() for s in f.signals if s.score >= LIVE_ALERT_THRESHOLD]
        moment += timedelta(minutes=5)
    assert signals == []
