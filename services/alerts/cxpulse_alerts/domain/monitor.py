"""Turns scored feedback into detector readings: per brand, brand × stage and brand × topic.

Counts are kept per 5-minute interval of event time; when a series' interval closes, its
detectors read it, each against what is usual at that hour of that weekday. A brand's series
also reads its topics' shares of the interval's authors (`TopicBurst`), so a topic is always
judged against the whole brand's interval, empty ones included. Two detectors need no interval:
one negative mention with a large audience (an influencer detractor) and a negative post
spreading fast (a viral complaint) are signals the moment they arrive.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cxpulse_alerts.domain.detectors import (
    DetectorSignal,
    NegativeSwing,
    SatisfactionDrop,
    ShareRise,
    TopicBurst,
    Velocity,
    VelocityConfig,
    VolumeSpike,
    VolumeSpikeConfig,
)
from cxpulse_alerts.domain.incidents import SampleMention, Signal
from cxpulse_alerts.domain.seasonal import decay_rate
from cxpulse_contracts import ScoredFeedback, SocialMention, SurveyResponse
from cxpulse_scorer.domain.topics import EmergingTerms

INTERVAL = timedelta(minutes=5)
# A series silent for longer than this restarts its intervals instead of replaying empty ones.
MAX_GAP_INTERVALS = 12 * 24 * 7
# Distinct authors remembered per interval (and per topic in it): bounds memory in a storm.
MAX_AUTHORS_PER_INTERVAL = 10_000


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
    # Authors not yet counted in the last topic window: all of them, and those on each topic.
    new_authors: int = 0
    new_topic_authors: Counter[str] = field(default_factory=Counter)
    negative: int = 0
    judged: int = 0
    dissatisfied: int = 0
    responses: int = 0


class RecentAuthors:
    """Who was already counted, per key, within the last `window`: each author counts once per window.

    Counting distinct authors per interval is not enough for a share over an hour: three
    accounts posting all hour would be three fresh authors in each of its twelve intervals.
    """

    def __init__(self, window: timedelta, capacity: int = MAX_AUTHORS_PER_INTERVAL * 12) -> None:
        self.window = window
        self.capacity = capacity
        self.last_counted: dict[tuple[str, str], datetime] = {}

    def first_in_window(self, key: str, author: str, interval: datetime) -> bool:
        last = self.last_counted.get((key, author))
        if last is not None and interval - last < self.window:
            return False
        if last is None and len(self.last_counted) >= self.capacity:
            # In a storm too wide to remember, unknown authors are not counted: a bot storm
            # must not inflate a share, and the real authors of a crisis were mostly seen first.
            return False
        self.last_counted[(key, author)] = interval
        return True

    def forget_before(self, interval: datetime) -> None:
        cutoff = interval - self.window
        self.last_counted = {key: last for key, last in self.last_counted.items() if last > cutoff}


_Detector = TypeVar("_Detector", bound=ShareRise)


def _with_live_interval(detector_type: type[_Detector]) -> _Detector:
    return detector_type(replace(detector_type.default_config(), interval=INTERVAL))


class Series:
    """One followed series (a brand or a brand × stage): its open interval and its detectors.

    A brand's series also holds one `TopicBurst` per topic it has seen; a brand × stage series
    a `SatisfactionDrop`.
    """

    def __init__(self, brand: str, stage: str | None, settings: MonitorSettings) -> None:
        self.brand, self.stage = brand, stage
        self.interval_start: datetime | None = None
        self.counts = IntervalCounts()
        self.volume = VolumeSpike(VolumeSpikeConfig(interval=INTERVAL, warmup=settings.volume_warmup))
        self.velocity = Velocity(VelocityConfig(interval=INTERVAL))
        self.swing = _with_live_interval(NegativeSwing)
        self.satisfaction = _with_live_interval(SatisfactionDrop) if stage is not None else None
        self.topics: dict[str, TopicBurst] = {}
        # Authors seen, decayed like a topic baseline's overall share: a topic seen for the first
        # time starts from a share of zero out of them, so a topic bursting out of nowhere can page.
        self.authors_seen = 0.0
        topic_config = TopicBurst.default_config()
        self._authors_decay = 1.0 - decay_rate(INTERVAL, topic_config.baseline_half_life)
        self._recent_authors = RecentAuthors(topic_config.window)

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
            author = event.author.handle.lower()
            if len(self.counts.authors) < MAX_AUTHORS_PER_INTERVAL:
                self.counts.authors.add(author)
            if self.stage is None:
                self._count_topic_authors(author, interval, counts_as.topics)
        if label != "unsupported":
            self.counts.judged += 1
            self.counts.negative += label == "negative"
        if isinstance(event, SurveyResponse):
            self.counts.responses += 1
            self.counts.dissatisfied += is_dissatisfied(event.metric, event.score)
        return signals

    def _count_topic_authors(self, author: str, interval: datetime, topics: list[str]) -> None:
        if self._recent_authors.first_in_window("", author, interval):
            self.counts.new_authors += 1
        for topic in topics:
            if self._recent_authors.first_in_window(topic, author, interval):
                self.counts.new_topic_authors[topic] += 1

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
        self._recent_authors.forget_before(interval)
        return signals

    def _read(self, start: datetime, counts: IntervalCounts) -> list[Signal]:
        at = start + INTERVAL
        authors = len(counts.authors)
        readings: list[tuple[str, str | None, DetectorSignal]] = [
            ("volume_spike", None, self.volume.observe(start, counts.mentions, unique_authors=authors)),
            ("swing_to_negative", None, self.swing.observe(start, counts.negative, counts.judged)),
            ("velocity", None, self.velocity.observe(start, counts.mentions)),
        ]
        if self.satisfaction is not None:
            readings.append(
                (
                    "stage_satisfaction_drop",
                    None,
                    self.satisfaction.observe(start, counts.dissatisfied, counts.responses),
                )
            )
        for topic in counts.new_topic_authors.keys() - self.topics.keys():
            self.topics[topic] = _with_live_interval(TopicBurst)
            self.topics[topic].baseline.overall.add(0, 0.0, self.authors_seen)
        for topic, burst in sorted(self.topics.items()):
            hits = counts.new_topic_authors[topic]
            readings.append(("topic_burst", topic, burst.observe(start, hits, counts.new_authors)))
        self.authors_seen = self.authors_seen * self._authors_decay + counts.new_authors
        return [
            Signal(
                detector=name,
                brand=self.brand,
                stage=self.stage,
                topic=topic,
                score=reading.score,
                at=at,
                observed=reading.observed,
                baseline=reading.baseline,
                details={"z": round(reading.z, 2)},
            )
            for name, topic, reading in readings
            if reading.score > 0
        ]

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "interval_start": self.interval_start.isoformat() if self.interval_start else None,
            "volume": self.volume.to_dict(),
            "velocity": self.velocity.to_dict(),
            "swing": self.swing.to_dict(),
            "topics": {topic: burst.to_dict() for topic, burst in self.topics.items()},
            "authors_seen": self.authors_seen,
        }
        if self.satisfaction is not None:
            document["satisfaction"] = self.satisfaction.to_dict()
        return document

    def restore(self, document: dict[str, Any]) -> None:
        start = document.get("interval_start")
        self.interval_start = datetime.fromisoformat(start) if start else None
        self.volume = VolumeSpike.from_dict(document["volume"])
        self.velocity = Velocity.from_dict(document["velocity"])
        self.swing = NegativeSwing.from_dict(document["swing"])
        if self.satisfaction is not None and "satisfaction" in document:
            self.satisfaction = SatisfactionDrop.from_dict(document["satisfaction"])
        self.topics = {topic: TopicBurst.from_dict(state) for topic, state in document.get("topics", {}).items()}
        self.authors_seen = float(document.get("authors_seen", 0.0))


@dataclass
class BrandFindings:
    signals: list[Signal] = field(default_factory=list)
    samples: list[SampleMention] = field(default_factory=list)
    negative_reach: int = 0


class SignalMonitor:
    def __init__(self, settings: MonitorSettings | None = None) -> None:
        self.settings = settings or MonitorSettings()
        self._series: dict[tuple[str, str | None], Series] = {}
        self._terms = EmergingTerms()

    def series(self, brand: str, stage: str | None = None) -> Series:
        key = (brand, stage)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = Series(brand, stage, self.settings)
        return found

    def observe(self, items: Iterable[ScoredFeedback]) -> dict[str, BrandFindings]:
        findings: dict[str, BrandFindings] = defaultdict(BrandFindings)
        for item in items:
            event = item.event
            brand_findings = findings[event.brand]
            moment = event.occurred_at
            stages: list[str | None] = [None]
            if item.journey_stage != "unknown":
                stages.append(item.journey_stage)
            for stage in stages:
                brand_findings.signals.extend(self.series(event.brand, stage).add(moment, counts_as=item))
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
        """Influencer detractors and viral complaints: thresholds on one post, with no seasonal baseline.

        What makes such a post dangerous is its own audience or spread, which is the same at
        3 a.m. as at noon: a detractor with two million followers reaches them whatever the
        brand's usual traffic at that hour. Judging the post against a seasonal engagement
        rate would lower the bar on busy afternoons and raise it at night, when nobody is
        watching and a post has hours to spread before the morning shift.
        """
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
        # Keyed `stage|` (empty for the brand itself); the old `|topic` keys are read past.
        return {
            f"{stage or ''}|": series.to_dict()
            for (series_brand, stage), series in self._series.items()
            if series_brand == brand
        }

    def restore_brand(self, brand: str, state: dict[str, Any]) -> None:
        for key, document in state.items():
            stage, _, topic = key.partition("|")
            if not topic:
                self.series(brand, stage or None).restore(document)
