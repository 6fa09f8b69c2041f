"""Turns scored feedback into detector readings: per brand, brand × stage and brand × topic.

Counts are kept per 5-minute interval of event time; when a series' interval closes, its
detectors read it. Two detectors need no interval: one negative mention with a large audience
(an influencer detractor) and a negative post spreading fast (a viral complaint) are signals
the moment they arrive.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cxpulse_alerts.domain.detectors import (
    NegativeSwing,
    NegativeSwingConfig,
    Velocity,
    VelocityConfig,
    VolumeSpike,
    VolumeSpikeConfig,
)
from cxpulse_alerts.domain.incidents import SampleMention, Signal
from cxpulse_contracts import ScoredFeedback, SocialMention, SurveyResponse
from cxpulse_scorer.domain.topics import EmergingTerms

INTERVAL = timedelta(minutes=5)
# A series silent for longer than this restarts its intervals instead of replaying empty ones.
MAX_GAP_INTERVALS = 12 * 24 * 7


@dataclass(frozen=True)
class MonitorSettings:
    influencer_followers: int = 100_000
    viral_shares: int = 200
    volume_warmup: timedelta = timedelta(days=2)
    min_interval_mentions: int = 1
    max_samples: int = 5


def is_dissatisfied(metric: str, score: int) -> bool:
    """Detractors (NPS 0-6), CSAT 1-2 and CES 1-3: the answers a satisfaction drop is made of."""
    return score <= {"nps": 6, "csat": 2, "ces": 3}[metric]


def floor_interval(moment: datetime) -> datetime:
    seconds = moment.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(seconds - seconds % INTERVAL.total_seconds(), tz=UTC)


@dataclass
class IntervalCounts:
    mentions: int = 0
    authors: set[str] = field(default_factory=set)
    negative: int = 0
    judged: int = 0
    dissatisfied: int = 0
    responses: int = 0


class Series:
    """One followed series: its open interval and its detectors."""

    def __init__(self, brand: str, stage: str | None, topic: str | None, settings: MonitorSettings) -> None:
        self.brand, self.stage, self.topic = brand, stage, topic
        self.interval_start: datetime | None = None
        self.counts = IntervalCounts()
        self.volume = VolumeSpike(VolumeSpikeConfig(interval=INTERVAL, warmup=settings.volume_warmup))
        self.velocity = Velocity(VelocityConfig(interval=INTERVAL))
        self.swing = NegativeSwing(NegativeSwingConfig(interval=INTERVAL))
        self.satisfaction = NegativeSwing(
            NegativeSwingConfig(interval=INTERVAL, window=timedelta(hours=6), min_total=15)
        )

    def add(self, moment: datetime, *, counts_as: ScoredFeedback) -> list[Signal]:
        interval = floor_interval(moment)
        signals: list[Signal] = []
        if self.interval_start is None:
            self.interval_start = interval
        elif interval > self.interval_start:
            signals = self._close_until(interval)
        event = counts_as.event
        label = counts_as.sentiment.label
        if isinstance(event, SocialMention):
            self.counts.mentions += 1
            if len(self.counts.authors) < 10_000:
                self.counts.authors.add(event.author.handle.lower())
        if label != "unsupported":
            self.counts.judged += 1
            self.counts.negative += label == "negative"
        if isinstance(event, SurveyResponse):
            self.counts.responses += 1
            self.counts.dissatisfied += is_dissatisfied(event.metric, event.score)
        return signals

    def _close_until(self, interval: datetime) -> list[Signal]:
        assert self.interval_start is not None
        signals = self._read(self.interval_start, self.counts)
        skipped = int((interval - self.interval_start) / INTERVAL) - 1
        if skipped > MAX_GAP_INTERVALS:
            skipped = 0
        for offset in range(1, skipped + 1):
            self._read(self.interval_start + offset * INTERVAL, IntervalCounts())
        self.interval_start = interval
        self.counts = IntervalCounts()
        return signals

    def _read(self, start: datetime, counts: IntervalCounts) -> list[Signal]:
        at = start + INTERVAL
        readings: list[tuple[str, Any]] = []
        if self.topic is None:
            readings.append(
                ("volume_spike", self.volume.observe(start, counts.mentions, unique_authors=len(counts.authors)))
            )
            readings.append(("swing_to_negative", self.swing.observe(start, counts.negative, counts.judged)))
            readings.append(("velocity", self.velocity.observe(start, counts.mentions)))
        else:
            readings.append(("topic_burst", self.velocity.observe(start, counts.mentions)))
        if self.stage is not None:
            readings.append(
                ("stage_satisfaction_drop", self.satisfaction.observe(start, counts.dissatisfied, counts.responses))
            )
        return [
            Signal(
                detector=name,
                brand=self.brand,
                stage=self.stage,
                topic=self.topic,
                score=reading.score,
                at=at,
                observed=reading.observed,
                baseline=reading.baseline,
                details={"z": round(reading.z, 2)},
            )
            for name, reading in readings
            if reading.score > 0
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_start": self.interval_start.isoformat() if self.interval_start else None,
            "volume": self.volume.to_dict(),
            "velocity": self.velocity.to_dict(),
            "swing": self.swing.to_dict(),
            "satisfaction": self.satisfaction.to_dict(),
        }

    def restore(self, document: dict[str, Any]) -> None:
        start = document.get("interval_start")
        self.interval_start = datetime.fromisoformat(start) if start else None
        self.volume = VolumeSpike.from_dict(document["volume"])
        self.velocity = Velocity.from_dict(document["velocity"])
        self.swing = NegativeSwing.from_dict(document["swing"])
        self.satisfaction = NegativeSwing.from_dict(document["satisfaction"])


@dataclass
class BrandFindings:
    signals: list[Signal] = field(default_factory=list)
    samples: list[SampleMention] = field(default_factory=list)
    negative_reach: int = 0


class SignalMonitor:
    def __init__(self, settings: MonitorSettings | None = None) -> None:
        self.settings = settings or MonitorSettings()
        self._series: dict[tuple[str, str | None, str | None], Series] = {}
        self._terms = EmergingTerms()

    def series(self, brand: str, stage: str | None = None, topic: str | None = None) -> Series:
        key = (brand, stage, topic)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = Series(brand, stage, topic, self.settings)
        return found

    def observe(self, items: Iterable[ScoredFeedback]) -> dict[str, BrandFindings]:
        findings: dict[str, BrandFindings] = defaultdict(BrandFindings)
        for item in items:
            event = item.event
            brand_findings = findings[event.brand]
            moment = event.occurred_at
            keys: list[tuple[str | None, str | None]] = [(None, None)]
            if item.journey_stage != "unknown":
                keys.append((item.journey_stage, None))
            keys.extend((None, topic) for topic in item.topics)
            for stage, topic in keys:
                brand_findings.signals.extend(self.series(event.brand, stage, topic).add(moment, counts_as=item))
            if isinstance(event, SocialMention) and item.sentiment.label == "negative":
                self._terms.observe(event.brand, moment, event.text)
                brand_findings.negative_reach += item.reach
                brand_findings.samples.append(
                    SampleMention(event.text[:280], event.url, event.author.handle, item.reach)
                )
                brand_findings.signals.extend(self._per_mention(item, event))
        for brand_findings in findings.values():
            brand_findings.samples = sorted(brand_findings.samples, key=lambda s: -s.reach)[: self.settings.max_samples]
        return dict(findings)

    def _per_mention(self, item: ScoredFeedback, event: SocialMention) -> list[Signal]:
        signals = []
        followers = event.author.followers
        stage = item.journey_stage if item.journey_stage != "unknown" else None
        if followers >= self.settings.influencer_followers:
            # 0.6 at the threshold, rising with each tenfold audience: one such voice is worth a page.
            score = min(0.99, 0.6 + 0.2 * math.log10(followers / self.settings.influencer_followers))
            signals.append(
                Signal(
                    "influencer_detractor",
                    event.brand,
                    round(score, 4),
                    event.occurred_at,
                    stage=stage,
                    observed=followers,
                    baseline=self.settings.influencer_followers,
                    details={"url": event.url, "author": event.author.handle},
                )
            )
        shares = event.engagement.shares
        if shares >= self.settings.viral_shares:
            score = min(0.99, 0.55 + 0.2 * math.log10(shares / self.settings.viral_shares))
            signals.append(
                Signal(
                    "viral_complaint",
                    event.brand,
                    round(score, 4),
                    event.occurred_at,
                    stage=stage,
                    observed=shares,
                    baseline=self.settings.viral_shares,
                    details={"url": event.url},
                )
            )
        return signals

    def top_terms(self, brand: str, now: datetime, limit: int = 10) -> list[str]:
        return [term.term for term in self._terms.emerging(brand, now, limit=limit)]

    def brand_state(self, brand: str) -> dict[str, Any]:
        return {
            f"{stage or ''}|{topic or ''}": series.to_dict()
            for (series_brand, stage, topic), series in self._series.items()
            if series_brand == brand
        }

    def restore_brand(self, brand: str, state: dict[str, Any]) -> None:
        for key, document in state.items():
            stage, _, topic = key.partition("|")
            self.series(brand, stage or None, topic or None).restore(document)
