"""Crisis detectors: pure, deterministic, online, with a fixed amount of state per series.

Each detector follows one series (a brand, a brand × stage or a brand × topic), is fed one
interval at a time through `observe(timestamp, ...)`, never looks ahead, and returns a
`DetectorSignal` whose `score` (0..1) is comparable across series: the same threshold suits
every brand, large or small. State round-trips through a JSON-safe dict (`to_dict` /
`from_dict`), which is how the live service keeps it in Redis between batches.

Every detector judges the interval against what is usual at that hour of that weekday, learned
online (`cxpulse_alerts.domain.seasonal`): the daily ramp, quiet nights and their moods are not
news, the same numbers at an unusual hour are.

- `VolumeSpike` pages on a crisis in the making: mention volume that is both significant
  against a seasonal baseline (hour of day, day of week, recent level; robust, Poisson-aware)
  and as high as the biggest volume the series has shown in the last weeks. It looks at a
  short burst and a longer surge, discounts bot storms when unique authors are known, and
  pages once per incident (`AlertGate`). This is the detector `cxpulse backtest` replays.
- `NegativeSwing` (negative share of judged mentions), `SatisfactionDrop` (dissatisfied share
  of a stage's survey answers) and `TopicBurst` (a topic's share of the brand's authors) are
  `ShareRise` detectors: the share of the last window against its seasonal expectation,
  two-proportion z-test, with floors on volume and on the size of the rise.
- `Velocity` scores an acceleration of mentions beyond the one the season brings (conditional
  binomial test of the last window against the one before).

The live service pages when `score >= LIVE_ALERT_THRESHOLD`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Self

from cxpulse_alerts.domain.seasonal import (
    MAD_TO_SD,
    POISSON_SPREAD,
    SHARE_PRIOR_WEIGHT,
    SHARE_PROFILE_HALF_LIFE,
    SeasonalBaseline,
    SeasonalBaselineConfig,
    SeasonalShare,
    SeasonalShareConfig,
    anscombe,
    clip,
    config_from_json,
    config_to_json,
    decay_rate,
    timestamp_from_json,
    timestamp_to_json,
)

# Chosen on the five NAB realTweets series by the rule `cxpulse quality` uses (its NAB section
# gives the leave-one-series-out figures). A window level with the series' recent peak pages
# from 7.6 standard errors above its seasonal baseline; one at twice the peak from 4.5.
LIVE_ALERT_THRESHOLD: Final = 0.51


def significance_score(z: float, half: float) -> float:
    """Maps a z-statistic to 0..1: 0 at or below zero, 0.5 at `half`, approaching 1 above."""
    positive = max(z, 0.0)
    return positive / (positive + half)


def two_proportion_z(successes_a: float, trials_a: float, successes_b: float, trials_b: float) -> float:
    """z of share A above share B with the pooled standard error; 0 when either sample is empty."""
    if trials_a <= 0 or trials_b <= 0:
        return 0.0
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b)
    if variance <= 0:
        return 0.0
    return (successes_a / trials_a - successes_b / trials_b) / math.sqrt(variance)


@dataclass(frozen=True, slots=True)
class DetectorSignal:
    """One detector's reading of one interval.

    `score` is what to compare with the alert threshold (held just below it while the series
    is in cooldown after a page); `evidence` is the same reading without the cooldown, for
    severity. `baseline` and `observed` share a unit: a count, a share or a rate.
    """

    score: float
    baseline: float
    observed: float
    z: float = 0.0
    evidence: float = 0.0
    pages: bool = False


@dataclass(frozen=True, slots=True)
class AlertGateConfig:
    threshold: float = LIVE_ALERT_THRESHOLD
    cooldown: timedelta = timedelta(hours=24)


class AlertGate:
    """Turns evidence into pages: one page per incident, then quiet for `cooldown`.

    A brewing crisis stays above the threshold for hours; paging on every interval would
    teach the care team to ignore the pager. During the cooldown the score is held just below
    the threshold, so the emitted score never pages twice for the same incident.
    """

    def __init__(self, config: AlertGateConfig | None = None) -> None:
        self.config = config or AlertGateConfig()
        self.last_page: datetime | None = None

    def admit(self, timestamp: datetime, evidence: float) -> tuple[float, bool]:
        cooling = self.last_page is not None and timestamp - self.last_page < self.config.cooldown
        if cooling:
            return min(evidence, math.nextafter(self.config.threshold, 0.0)), False
        if evidence >= self.config.threshold:
            self.last_page = timestamp
            return evidence, True
        return evidence, False

    def to_dict(self) -> dict[str, Any]:
        return {"config": config_to_json(self.config), "last_page": timestamp_to_json(self.last_page)}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> AlertGate:
        gate = cls(config_from_json(AlertGateConfig, document["config"]))
        gate.last_page = timestamp_from_json(document["last_page"])
        return gate


@dataclass(frozen=True, slots=True)
class VolumeSpikeConfig:
    interval: timedelta = timedelta(minutes=5)
    # A burst (a viral post, an outage) and a surge (a story building over the afternoon).
    windows: tuple[timedelta, ...] = (timedelta(minutes=15), timedelta(hours=2))
    # "As high as the recent peak" forgets a peak by half in this time.
    peak_half_life: timedelta = timedelta(days=28)
    # Standard errors above the seasonal baseline that make the significance half of the score.
    significance_half: float = 7.0
    # Fewer mentions than this in a window never page, however unusual for a quiet series.
    min_count: float = 10.0
    # No score before the baseline has seen this much of the series.
    warmup: timedelta = timedelta(days=2)
    # Authors' diversity (unique authors per mention) is compared with its own slow baseline.
    diversity_half_life: timedelta = timedelta(days=7)


class _Window:
    """Per-window state: residual spread of the window's sum and its decaying peak."""

    def __init__(self, intervals: int) -> None:
        self.intervals = intervals
        self.mean_absolute_residual = POISSON_SPREAD / MAD_TO_SD
        self.peak = 0.0

    @property
    def spread(self) -> float:
        return max(MAD_TO_SD * self.mean_absolute_residual, POISSON_SPREAD)


class VolumeSpike:
    """Mention volume at a multi-week high and significantly above its seasonal baseline.

    For each window (15 minutes and 2 hours by default) two pieces of evidence, each 0..1:
    significance, the window's count against the sum of its seasonal expectations on the
    Anscombe scale in robust standard errors (at least the Poisson error, so quiet series do
    not page on noise); and height, the count against the series' own recent peak
    (`record / (1 + record)`, 0.5 when level with it). Volume is a crisis only when it is both
    unusual for the hour and large for the brand, so the window's evidence is the geometric
    mean of the two, and the score is the strongest window's, through the `AlertGate`.

    With `unique_authors`, mentions are discounted by how much less diverse their authors are
    than usual: a few accounts copy-pasting, or a bot storm, cannot fake a crisis.
    """

    def __init__(self, config: VolumeSpikeConfig | None = None, gate: AlertGateConfig | None = None) -> None:
        self.config = config or VolumeSpikeConfig()
        self.gate = AlertGate(gate)
        self.baseline = SeasonalBaseline(SeasonalBaselineConfig(interval=self.config.interval))
        self.windows = [_Window(max(1, round(window / self.config.interval))) for window in self.config.windows]
        longest = max(window.intervals for window in self.windows)
        self.recent_counts: deque[float] = deque(maxlen=longest)
        self.recent_expected: deque[float] = deque(maxlen=longest)
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.diversity: float | None = None
        self._peak_decay = 1.0 - decay_rate(self.config.interval, self.config.peak_half_life)
        self._spread_rate = decay_rate(self.config.interval, self.baseline.config.spread_half_life)
        self._diversity_rate = decay_rate(self.config.interval, self.config.diversity_half_life)

    def observe(self, timestamp: datetime, value: float, *, unique_authors: float | None = None) -> DetectorSignal:
        """Read one interval's mention count; intervals must come in time order, empty ones as 0."""
        if self.last_seen is not None and timestamp < self.last_seen:
            raise ValueError(f"interval {timestamp.isoformat()} is older than {self.last_seen.isoformat()}")
        if self.first_seen is None:
            self.first_seen = timestamp
        self.last_seen = timestamp
        count = self._discount_repeated_authors(max(value, 0.0), unique_authors)
        expected = self.baseline.expected_count(timestamp)
        self.recent_counts.append(count)
        self.recent_expected.append(expected)
        evidence, short_z = self._evidence()
        self.baseline.update(timestamp, count)
        if timestamp - self.first_seen < self.config.warmup:
            evidence = 0.0
        score, pages = self.gate.admit(timestamp, evidence)
        return DetectorSignal(score=score, baseline=expected, observed=count, z=short_z, evidence=evidence, pages=pages)

    def _discount_repeated_authors(self, count: float, unique_authors: float | None) -> float:
        if unique_authors is None or count <= 0:
            return count
        diversity = min(max(unique_authors, 0.0) / count, 1.0)
        usual = self.diversity if self.diversity is not None else diversity
        # Learn from the diversity clipped at half the usual one, so a storm cannot lower the bar fast.
        learned = max(diversity, usual / 2.0)
        self.diversity = usual + self._diversity_rate * (learned - usual)
        if usual <= 0:
            return count
        return count * min(1.0, diversity / usual)

    def _evidence(self) -> tuple[float, float]:
        counts = list(self.recent_counts)
        expectations = list(self.recent_expected)
        strongest = 0.0
        short_z = 0.0
        for position, window in enumerate(self.windows):
            if len(counts) < window.intervals:
                continue
            observed = math.fsum(counts[-window.intervals :])
            expected = math.fsum(expectations[-window.intervals :])
            residual = anscombe(observed) - anscombe(expected)
            z = residual / window.spread
            if position == 0:
                short_z = z
            record = observed / max(window.peak, self.config.min_count)
            if observed >= self.config.min_count:
                height = record / (1.0 + record)
                strongest = max(strongest, math.sqrt(significance_score(z, self.config.significance_half) * height))
            clipped = clip(residual, self.baseline.config.clip_spreads * window.spread)
            window.mean_absolute_residual += self._spread_rate * (abs(clipped) - window.mean_absolute_residual)
            window.peak = max(window.peak * self._peak_decay, observed)
        return strongest, short_z

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "volume_spike",
            "config": config_to_json(self.config),
            "gate": self.gate.to_dict(),
            "baseline": self.baseline.to_dict(),
            "windows": [
                {"mean_absolute_residual": window.mean_absolute_residual, "peak": window.peak}
                for window in self.windows
            ],
            "recent_counts": list(self.recent_counts),
            "recent_expected": list(self.recent_expected),
            "first_seen": timestamp_to_json(self.first_seen),
            "last_seen": timestamp_to_json(self.last_seen),
            "diversity": self.diversity,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> VolumeSpike:
        detector = cls(config_from_json(VolumeSpikeConfig, document["config"]))
        detector.gate = AlertGate.from_dict(document["gate"])
        detector.baseline = SeasonalBaseline.from_dict(document["baseline"])
        for window, state in zip(detector.windows, document["windows"], strict=True):
            window.mean_absolute_residual = float(state["mean_absolute_residual"])
            window.peak = float(state["peak"])
        detector.recent_counts.extend(float(value) for value in document["recent_counts"])
        detector.recent_expected.extend(float(value) for value in document["recent_expected"])
        detector.first_seen = timestamp_from_json(document["first_seen"])
        detector.last_seen = timestamp_from_json(document["last_seen"])
        detector.diversity = document["diversity"]
        return detector


@dataclass(frozen=True, slots=True)
class ShareRiseConfig:
    interval: timedelta = timedelta(minutes=5)
    window: timedelta = timedelta(hours=1)
    # Half-life of the overall share; the hour-of-day and hour-of-week profiles forget slower.
    baseline_half_life: timedelta = timedelta(days=7)
    seasonal_half_life: timedelta = SHARE_PROFILE_HALF_LIFE
    prior_weight: float = SHARE_PRIOR_WEIGHT
    significance_half: float = 5.0
    # A rise must be large enough to matter, not only significant on a big brand: in points of
    # share, and as a multiple of the expected share.
    min_share_increase: float = 0.05
    min_share_ratio: float = 1.0
    # Fewer trials than this in the window, or behind the baseline, never score: low-volume
    # series do not page on noise. Fewer hits than `min_hits` neither.
    min_total: float = 20.0
    min_hits: float = 0.0


@dataclass(frozen=True, slots=True)
class _WindowInterval:
    """One interval of the window, with the seasonal expectation it had when it arrived."""

    at: datetime
    hits: float
    total: float
    expected_share: float
    strength: float


class ShareRise:
    """A share of the last window significantly above its seasonal expectation.

    Each interval brings `hits` out of `total` trials. The window's hits are tested against the
    hits its intervals were expected to bring at their hour of the week (`SeasonalShare`: the
    slot's own history, shrunk toward the hour of day and the overall share while it has
    little), a two-proportion z-test where the expectation is worth the trials it rests on.
    Intervals join the baseline only once they leave the window, so the two samples never
    overlap and a rise is judged against what came before it.
    """

    kind: ClassVar[str] = "share_rise"

    def __init__(self, config: ShareRiseConfig | None = None) -> None:
        self.config = config or self.default_config()
        self.recent: deque[_WindowInterval] = deque(maxlen=max(1, round(self.config.window / self.config.interval)))
        self.baseline = SeasonalShare(
            SeasonalShareConfig(
                interval=self.config.interval,
                level_half_life=self.config.baseline_half_life,
                profile_half_life=self.config.seasonal_half_life,
                prior_weight=self.config.prior_weight,
            )
        )

    @classmethod
    def default_config(cls) -> ShareRiseConfig:
        return ShareRiseConfig()

    def observe(self, timestamp: datetime, hits: float, total: float) -> DetectorSignal:
        if len(self.recent) == self.recent.maxlen:
            leaving = self.recent[0]
            self.baseline.update(leaving.at, leaving.hits, leaving.total)
        total = max(total, 0.0)
        expectation = self.baseline.expected(timestamp)
        self.recent.append(
            _WindowInterval(timestamp, min(max(hits, 0.0), total), total, expectation.share, expectation.strength)
        )
        window_hits = math.fsum(interval.hits for interval in self.recent)
        window_total = math.fsum(interval.total for interval in self.recent)
        if window_total > 0:
            window_share = window_hits / window_total
            baseline_share = math.fsum(i.total * i.expected_share for i in self.recent) / window_total
            strength = math.fsum(i.total * i.strength for i in self.recent) / window_total
        else:
            window_share, baseline_share, strength = 0.0, expectation.share, expectation.strength
        z = two_proportion_z(window_hits, window_total, baseline_share * strength, strength)
        large_enough = (
            window_total >= self.config.min_total
            and strength >= self.config.min_total
            and window_hits >= self.config.min_hits
            and window_share - baseline_share >= self.config.min_share_increase
            and window_share >= self.config.min_share_ratio * baseline_share
        )
        score = significance_score(z, self.config.significance_half) if large_enough else 0.0
        return DetectorSignal(score=score, baseline=baseline_share, observed=window_share, z=z, evidence=score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "config": config_to_json(self.config),
            "recent": [[i.at.isoformat(), i.hits, i.total, i.expected_share, i.strength] for i in self.recent],
            "baseline": self.baseline.to_dict(),
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Self:
        detector = cls(config_from_json(ShareRiseConfig, document["config"]))
        if "baseline" not in document:
            # State written before the baseline was seasonal: keep its overall share, drop the
            # window (its intervals carry no timestamps); an hour of history is all that is lost.
            detector.baseline.overall.add(0, document["baseline_negative"], document["baseline_total"])
            return detector
        detector.baseline = SeasonalShare.from_dict(document["baseline"])
        detector.recent.extend(
            _WindowInterval(datetime.fromisoformat(at), float(hits), float(total), float(share), float(strength))
            for at, hits, total, share, strength in document["recent"]
        )
        return detector


class NegativeSwing(ShareRise):
    """Negative mentions per judged mention, against the share usual at this hour of the week.

    A brand whose night owls are grumpier than its lunchtime crowd does not page every night;
    the same negative share at noon does.
    """

    kind = "negative_swing"


class SatisfactionDrop(ShareRise):
    """Dissatisfied answers (NPS detractors, CSAT 1-2, CES 1-3) per response of one journey stage.

    Survey answers are sparse, so the window is six hours and the floor on answers lower; the
    baseline is the stage's own, seasonal where the slot has enough history and the trailing
    overall share where it has not.
    """

    kind = "satisfaction_drop"

    @classmethod
    def default_config(cls) -> ShareRiseConfig:
        return ShareRiseConfig(window=timedelta(hours=6), min_total=15.0)


class TopicBurst(ShareRise):
    """A topic's share of the brand's authors jumping above its seasonal share.

    Fed authors rather than posts (the monitor counts each author once per topic per window),
    a few accounts copy-pasting can neither make a topic burst nor, posting about something
    else, dilute one away.

    A topic is a small share of the conversation, so the rise is judged relatively too: the
    share must at least double, by two points or more, carried by at least ten authors (the
    same floor as `VolumeSpikeConfig.min_count`).
    """

    kind = "topic_burst"

    @classmethod
    def default_config(cls) -> ShareRiseConfig:
        return ShareRiseConfig(min_share_increase=0.02, min_share_ratio=2.0, min_hits=10.0)


@dataclass(frozen=True, slots=True)
class VelocityConfig:
    interval: timedelta = timedelta(minutes=5)
    window: timedelta = timedelta(minutes=30)
    significance_half: float = 5.0
    min_count: float = 20.0


# Expected counts are known to about one mention (the Poisson floor of `SeasonalBaseline`): an
# expectation of zero for a quiet half hour must not make the next half hour's mentions certain.
_EXPECTED_COUNT_FLOOR: Final = 1.0


class Velocity:
    """Acceleration of mentions beyond the season's own: the last window against the one before.

    If the rate had changed only as the hour of day and day of week make it change, the last
    window would hold a share q = E_last / (E_last + E_previous) of the two windows' mentions,
    binomially, with E the seasonal baseline's expected counts taken at one common level, so
    only the seasonal profile (not the recent level, which follows any ramp) sets q. Intervals
    join the baseline only once they leave both windows, so an acceleration cannot teach the
    profile to expect itself while it is being judged. The normal
    morning ramp is therefore not acceleration, while the same ramp at night is. q never drops
    below one half: a usual evening decline that fails to come is not acceleration. Before the
    baseline has learned a profile q is one half, the plain "more than before" test. The z of
    that test is Poisson-aware by construction: ten mentions after five is not news, a thousand
    after five hundred is.
    """

    def __init__(self, config: VelocityConfig | None = None) -> None:
        self.config = config or VelocityConfig()
        self.window_intervals = max(1, round(self.config.window / self.config.interval))
        self.recent: deque[tuple[datetime, float]] = deque(maxlen=2 * self.window_intervals)
        self.baseline = SeasonalBaseline(SeasonalBaselineConfig(interval=self.config.interval))

    def observe(self, timestamp: datetime, value: float) -> DetectorSignal:
        if len(self.recent) == self.recent.maxlen:
            self.baseline.update(*self.recent[0])
        self.recent.append((timestamp, max(value, 0.0)))
        counts = [count for _, count in self.recent]
        expected = [self.baseline.expected_count(at) for at, _ in self.recent]
        split = len(counts) - self.window_intervals
        latest = math.fsum(counts[max(split, 0) :])
        previous = math.fsum(counts[: max(split, 0)])
        expected_latest = math.fsum(expected[max(split, 0) :]) + _EXPECTED_COUNT_FLOOR
        expected_previous = math.fsum(expected[: max(split, 0)]) + _EXPECTED_COUNT_FLOOR
        share_of_latest = max(0.5, expected_latest / (expected_latest + expected_previous))
        total = latest + previous
        spread = math.sqrt(total * share_of_latest * (1.0 - share_of_latest))
        z = (latest - total * share_of_latest) / spread if spread > 0 else 0.0
        full = len(counts) == self.recent.maxlen
        score = (
            significance_score(z, self.config.significance_half) if full and latest >= self.config.min_count else 0.0
        )
        # The previous window's count carried forward at the seasonal rate change.
        baseline = previous * share_of_latest / (1.0 - share_of_latest)
        return DetectorSignal(score=score, baseline=baseline, observed=latest, z=z, evidence=score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "velocity",
            "config": config_to_json(self.config),
            "recent": [[at.isoformat(), count] for at, count in self.recent],
            "baseline": self.baseline.to_dict(),
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Velocity:
        detector = cls(config_from_json(VelocityConfig, document["config"]))
        if "baseline" not in document:
            # State written before the baseline was seasonal: its window has no timestamps.
            return detector
        detector.baseline = SeasonalBaseline.from_dict(document["baseline"])
        detector.recent.extend((datetime.fromisoformat(at), float(count)) for at, count in document["recent"])
        return detector
