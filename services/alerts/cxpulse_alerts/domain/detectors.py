"""Crisis detectors: pure, deterministic, online, with a fixed amount of state per series.

Each detector follows one series (a brand, a brand × stage or a brand × topic), is fed one
interval at a time through `observe(timestamp, ...)`, never looks ahead, and returns a
`DetectorSignal` whose `score` (0..1) is comparable across series: the same threshold suits
every brand, large or small. State round-trips through a JSON-safe dict (`to_dict` /
`from_dict`), which is how the live service keeps it in Redis between batches.

- `VolumeSpike` pages on a crisis in the making: mention volume that is both significant
  against a seasonal baseline (hour of day, day of week, recent level; robust, Poisson-aware)
  and as high as the biggest volume the series has shown in the last weeks. It looks at a
  short burst and a longer surge, discounts bot storms when unique authors are known, and
  pages once per incident (`AlertGate`). This is the detector `cxpulse backtest` replays.
- `NegativeSwing` scores a rise of the negative share against its baseline (two-proportion
  z-test), `Velocity` an acceleration of mentions (conditional binomial test of the last
  window against the one before). Both are building blocks for the live service.

The live service pages when `score >= LIVE_ALERT_THRESHOLD`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final

# Chosen on the five NAB realTweets series by the rule `cxpulse quality` uses (its NAB section
# gives the leave-one-series-out figures). A window level with the series' recent peak pages
# from 7.6 standard errors above its seasonal baseline; one at twice the peak from 4.5.
LIVE_ALERT_THRESHOLD: Final = 0.51

# Anscombe's transform makes Poisson noise unit-variance, so a spread below 1 is noise the
# counts themselves explain: this floor is what keeps low-volume series from paging on noise.
_POISSON_SPREAD: Final = 1.0
# Mean absolute deviation to standard deviation for Gaussian noise.
_MAD_TO_SD: Final = math.sqrt(math.pi / 2)
_HOURS_PER_DAY: Final = 24
_DAYS_PER_WEEK: Final = 7


def anscombe(count: float) -> float:
    """Variance-stabilising transform of a count: Poisson noise has unit variance on this scale."""
    return 2.0 * math.sqrt(max(count, 0.0) + 0.375)


def count_from_anscombe(value: float) -> float:
    return max(0.0, (value / 2.0) ** 2 - 0.375)


def significance_score(z: float, half: float) -> float:
    """Maps a z-statistic to 0..1: 0 at or below zero, 0.5 at `half`, approaching 1 above."""
    positive = max(z, 0.0)
    return positive / (positive + half)


def decay_rate(interval: timedelta, half_life: timedelta) -> float:
    """Weight of the newest interval in an exponentially weighted average with this half-life."""
    return 1.0 - math.pow(0.5, interval / half_life)


def _clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


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


def _timestamp_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _timestamp_from_json(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _duration_to_json(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tuple):
        return [_duration_to_json(item) for item in value]
    return value


def _config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON: durations in seconds, tuples as lists."""
    return {field.name: _duration_to_json(getattr(config, field.name)) for field in fields(config)}


def _config_from_json(config_type: type[Any], document: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    # Annotations are strings here (`from __future__ import annotations`).
    annotations = {field.name: str(field.type) for field in fields(config_type)}
    for name, value in document.items():
        if annotations[name] == "timedelta":
            values[name] = timedelta(seconds=value)
        elif annotations[name] == "tuple[timedelta, ...]":
            values[name] = tuple(timedelta(seconds=item) for item in value)
        else:
            values[name] = value
    return config_type(**values)


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
        return {"config": _config_to_json(self.config), "last_page": _timestamp_to_json(self.last_page)}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> AlertGate:
        gate = cls(_config_from_json(AlertGateConfig, document["config"]))
        gate.last_page = _timestamp_from_json(document["last_page"])
        return gate


@dataclass(frozen=True, slots=True)
class SeasonalBaselineConfig:
    interval: timedelta = timedelta(minutes=5)
    level_half_life: timedelta = timedelta(hours=3)
    hour_of_day_half_life: timedelta = timedelta(days=1)
    day_of_week_half_life: timedelta = timedelta(days=14)
    spread_half_life: timedelta = timedelta(hours=12)
    # Residuals beyond this many spreads are clipped before learning: a crisis must not
    # become the new normal within the hour.
    clip_spreads: float = 3.0


class SeasonalBaseline:
    """Expected count per interval: recent level + hour-of-day + day-of-week, on the Anscombe scale.

    An additive Holt-Winters model with two seasonal profiles, learned online from clipped
    residuals (robust), and an exponentially weighted mean absolute residual as its spread.
    """

    def __init__(self, config: SeasonalBaselineConfig | None = None) -> None:
        self.config = config or SeasonalBaselineConfig()
        self.level: float | None = None
        self.hour_of_day = [0.0] * _HOURS_PER_DAY
        self.day_of_week = [0.0] * _DAYS_PER_WEEK
        self.mean_absolute_residual = _POISSON_SPREAD / _MAD_TO_SD
        interval = self.config.interval
        # A seasonal slot is only updated when its hour or weekday comes round again.
        self._level_rate = decay_rate(interval, self.config.level_half_life)
        self._hour_rate = decay_rate(interval * _HOURS_PER_DAY, self.config.hour_of_day_half_life)
        self._weekday_rate = decay_rate(interval * _DAYS_PER_WEEK, self.config.day_of_week_half_life)
        self._spread_rate = decay_rate(interval, self.config.spread_half_life)

    def expected(self, timestamp: datetime) -> float:
        """Expected value on the Anscombe scale (0 before the first observation)."""
        if self.level is None:
            return 0.0
        return self.level + self.hour_of_day[timestamp.hour] + self.day_of_week[timestamp.weekday()]

    def expected_count(self, timestamp: datetime) -> float:
        return count_from_anscombe(self.expected(timestamp))

    @property
    def spread(self) -> float:
        return max(_MAD_TO_SD * self.mean_absolute_residual, _POISSON_SPREAD)

    def update(self, timestamp: datetime, count: float) -> None:
        observed = anscombe(count)
        if self.level is None:
            self.level = observed
            return
        residual = _clip(observed - self.expected(timestamp), self.config.clip_spreads * self.spread)
        self.level += self._level_rate * residual
        remaining = (1.0 - self._level_rate) * residual
        self.hour_of_day[timestamp.hour] += self._hour_rate * remaining
        self.day_of_week[timestamp.weekday()] += self._weekday_rate * remaining
        self.mean_absolute_residual += self._spread_rate * (abs(residual) - self.mean_absolute_residual)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": _config_to_json(self.config),
            "level": self.level,
            "hour_of_day": list(self.hour_of_day),
            "day_of_week": list(self.day_of_week),
            "mean_absolute_residual": self.mean_absolute_residual,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SeasonalBaseline:
        baseline = cls(_config_from_json(SeasonalBaselineConfig, document["config"]))
        baseline.level = document["level"]
        baseline.hour_of_day = [float(value) for value in document["hour_of_day"]]
        baseline.day_of_week = [float(value) for value in document["day_of_week"]]
        baseline.mean_absolute_residual = float(document["mean_absolute_residual"])
        return baseline


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
        self.mean_absolute_residual = _POISSON_SPREAD / _MAD_TO_SD
        self.peak = 0.0

    @property
    def spread(self) -> float:
        return max(_MAD_TO_SD * self.mean_absolute_residual, _POISSON_SPREAD)


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
            clipped = _clip(residual, self.baseline.config.clip_spreads * window.spread)
            window.mean_absolute_residual += self._spread_rate * (abs(clipped) - window.mean_absolute_residual)
            window.peak = max(window.peak * self._peak_decay, observed)
        return strongest, short_z

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "volume_spike",
            "config": _config_to_json(self.config),
            "gate": self.gate.to_dict(),
            "baseline": self.baseline.to_dict(),
            "windows": [
                {"mean_absolute_residual": window.mean_absolute_residual, "peak": window.peak}
                for window in self.windows
            ],
            "recent_counts": list(self.recent_counts),
            "recent_expected": list(self.recent_expected),
            "first_seen": _timestamp_to_json(self.first_seen),
            "last_seen": _timestamp_to_json(self.last_seen),
            "diversity": self.diversity,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> VolumeSpike:
        detector = cls(_config_from_json(VolumeSpikeConfig, document["config"]))
        detector.gate = AlertGate.from_dict(document["gate"])
        detector.baseline = SeasonalBaseline.from_dict(document["baseline"])
        for window, state in zip(detector.windows, document["windows"], strict=True):
            window.mean_absolute_residual = float(state["mean_absolute_residual"])
            window.peak = float(state["peak"])
        detector.recent_counts.extend(float(value) for value in document["recent_counts"])
        detector.recent_expected.extend(float(value) for value in document["recent_expected"])
        detector.first_seen = _timestamp_from_json(document["first_seen"])
        detector.last_seen = _timestamp_from_json(document["last_seen"])
        detector.diversity = document["diversity"]
        return detector


@dataclass(frozen=True, slots=True)
class NegativeSwingConfig:
    interval: timedelta = timedelta(minutes=5)
    window: timedelta = timedelta(hours=1)
    baseline_half_life: timedelta = timedelta(days=7)
    significance_half: float = 5.0
    # A swing must be large enough to matter, not only significant on a big brand.
    min_share_increase: float = 0.05
    min_total: float = 20.0


class NegativeSwing:
    """The negative share of the last window against the series' baseline share.

    Two-proportion z-test between the window and the baseline, whose counts are exponentially
    decayed (pseudo-counts). Intervals join the baseline only once they leave the window, so
    the two samples never overlap.
    """

    def __init__(self, config: NegativeSwingConfig | None = None) -> None:
        self.config = config or NegativeSwingConfig()
        self.recent: deque[tuple[float, float]] = deque(maxlen=max(1, round(self.config.window / self.config.interval)))
        self.baseline_negative = 0.0
        self.baseline_total = 0.0
        self._decay = 1.0 - decay_rate(self.config.interval, self.config.baseline_half_life)

    def observe(self, timestamp: datetime, negative: float, total: float) -> DetectorSignal:
        if len(self.recent) == self.recent.maxlen:
            leaving_negative, leaving_total = self.recent[0]
            self.baseline_negative = self.baseline_negative * self._decay + leaving_negative
            self.baseline_total = self.baseline_total * self._decay + leaving_total
        self.recent.append((max(negative, 0.0), max(total, 0.0)))
        window_negative = math.fsum(pair[0] for pair in self.recent)
        window_total = math.fsum(pair[1] for pair in self.recent)
        baseline_share = self.baseline_negative / self.baseline_total if self.baseline_total > 0 else 0.0
        window_share = window_negative / window_total if window_total > 0 else 0.0
        z = two_proportion_z(window_negative, window_total, self.baseline_negative, self.baseline_total)
        large_enough = (
            window_total >= self.config.min_total
            and self.baseline_total >= self.config.min_total
            and window_share - baseline_share >= self.config.min_share_increase
        )
        score = significance_score(z, self.config.significance_half) if large_enough else 0.0
        return DetectorSignal(score=score, baseline=baseline_share, observed=window_share, z=z, evidence=score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "negative_swing",
            "config": _config_to_json(self.config),
            "recent": [list(pair) for pair in self.recent],
            "baseline_negative": self.baseline_negative,
            "baseline_total": self.baseline_total,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> NegativeSwing:
        detector = cls(_config_from_json(NegativeSwingConfig, document["config"]))
        detector.recent.extend((float(negative), float(total)) for negative, total in document["recent"])
        detector.baseline_negative = float(document["baseline_negative"])
        detector.baseline_total = float(document["baseline_total"])
        return detector


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
class VelocityConfig:
    interval: timedelta = timedelta(minutes=5)
    window: timedelta = timedelta(minutes=30)
    significance_half: float = 5.0
    min_count: float = 20.0


class Velocity:
    """Acceleration of mentions: the last window's count against the window before it.

    If the rate had not changed, the last window would hold half of the two windows' mentions,
    binomially: the z of that test is Poisson-aware by construction, so ten mentions after five
    is not news while a thousand after five hundred is.
    """

    def __init__(self, config: VelocityConfig | None = None) -> None:
        self.config = config or VelocityConfig()
        self.window_intervals = max(1, round(self.config.window / self.config.interval))
        self.recent: deque[float] = deque(maxlen=2 * self.window_intervals)

    def observe(self, timestamp: datetime, value: float) -> DetectorSignal:
        self.recent.append(max(value, 0.0))
        counts = list(self.recent)
        latest = math.fsum(counts[-self.window_intervals :])
        previous = math.fsum(counts[: -self.window_intervals]) if len(counts) > self.window_intervals else 0.0
        total = latest + previous
        full = len(counts) == self.recent.maxlen
        z = (latest - total / 2.0) / math.sqrt(total / 4.0) if total > 0 else 0.0
        score = (
            significance_score(z, self.config.significance_half) if full and latest >= self.config.min_count else 0.0
        )
        return DetectorSignal(score=score, baseline=previous, observed=latest, z=z, evidence=score)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "velocity", "config": _config_to_json(self.config), "recent": list(self.recent)}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Velocity:
        detector = cls(_config_from_json(VelocityConfig, document["config"]))
        detector.recent.extend(float(value) for value in document["recent"])
        return detector
