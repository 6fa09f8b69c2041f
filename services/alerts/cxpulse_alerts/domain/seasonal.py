"""Seasonal baselines learned online, and the statistics and state helpers the detectors share.

Two baselines, one per kind of quantity, both keyed on the hour of day and the day of week of
the interval they are asked about, both updated one interval at a time, never looking ahead:

- `SeasonalBaseline` expects a count (mentions per interval): recent level + hour-of-day +
  day-of-week offsets on the Anscombe scale, robust to outliers. `VolumeSpike` and `Velocity`
  read it.
- `SeasonalShare` expects a share (negative mentions per judged mention, dissatisfied answers
  per response, a topic's authors per author): exponentially decayed counts per hour-of-week
  slot, shrunk toward the hour of day and then toward the overall share when a slot has little
  history. `NegativeSwing`, `SatisfactionDrop` and `TopicBurst` read it.

Both round-trip through JSON-safe dicts (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final

# Anscombe's transform makes Poisson noise unit-variance, so a spread below 1 is noise the
# counts themselves explain: this floor is what keeps low-volume series from paging on noise.
POISSON_SPREAD: Final = 1.0
# Mean absolute deviation to standard deviation for Gaussian noise.
MAD_TO_SD: Final = math.sqrt(math.pi / 2)
HOURS_PER_DAY: Final = 24
DAYS_PER_WEEK: Final = 7
HOURS_PER_WEEK: Final = HOURS_PER_DAY * DAYS_PER_WEEK


def anscombe(count: float) -> float:
    """Variance-stabilising transform of a count: Poisson noise has unit variance on this scale."""
    return 2.0 * math.sqrt(max(count, 0.0) + 0.375)


def count_from_anscombe(value: float) -> float:
    return max(0.0, (value / 2.0) ** 2 - 0.375)


def decay_rate(interval: timedelta, half_life: timedelta) -> float:
    """Weight of the newest interval in an exponentially weighted average with this half-life."""
    return 1.0 - math.pow(0.5, interval / half_life)


def clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def hour_of_week(timestamp: datetime) -> int:
    """0 for Monday 00:00-00:59 up to 167 for Sunday 23:00-23:59, in the timestamp's own zone."""
    return timestamp.weekday() * HOURS_PER_DAY + timestamp.hour


def timestamp_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def timestamp_from_json(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _duration_to_json(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tuple):
        return [_duration_to_json(item) for item in value]
    return value


def config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON: durations in seconds, tuples as lists."""
    return {field.name: _duration_to_json(getattr(config, field.name)) for field in fields(config)}


def config_from_json(config_type: type[Any], document: dict[str, Any]) -> Any:
    """The inverse of `config_to_json`; fields missing from an older document keep their defaults."""
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
        self.hour_of_day = [0.0] * HOURS_PER_DAY
        self.day_of_week = [0.0] * DAYS_PER_WEEK
        self.mean_absolute_residual = POISSON_SPREAD / MAD_TO_SD
        interval = self.config.interval
        # A seasonal slot is only updated when its hour or weekday comes round again.
        self._level_rate = decay_rate(interval, self.config.level_half_life)
        self._hour_rate = decay_rate(interval * HOURS_PER_DAY, self.config.hour_of_day_half_life)
        self._weekday_rate = decay_rate(interval * DAYS_PER_WEEK, self.config.day_of_week_half_life)
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
        return max(MAD_TO_SD * self.mean_absolute_residual, POISSON_SPREAD)

    def update(self, timestamp: datetime, count: float) -> None:
        observed = anscombe(count)
        if self.level is None:
            self.level = observed
            return
        residual = clip(observed - self.expected(timestamp), self.config.clip_spreads * self.spread)
        self.level += self._level_rate * residual
        remaining = (1.0 - self._level_rate) * residual
        self.hour_of_day[timestamp.hour] += self._hour_rate * remaining
        self.day_of_week[timestamp.weekday()] += self._weekday_rate * remaining
        self.mean_absolute_residual += self._spread_rate * (abs(residual) - self.mean_absolute_residual)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": config_to_json(self.config),
            "level": self.level,
            "hour_of_day": list(self.hour_of_day),
            "day_of_week": list(self.day_of_week),
            "mean_absolute_residual": self.mean_absolute_residual,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SeasonalBaseline:
        baseline = cls(config_from_json(SeasonalBaselineConfig, document["config"]))
        baseline.level = document["level"]
        baseline.hour_of_day = [float(value) for value in document["hour_of_day"]]
        baseline.day_of_week = [float(value) for value in document["day_of_week"]]
        baseline.mean_absolute_residual = float(document["mean_absolute_residual"])
        return baseline


# Four weekly visits of an hour-of-week slot (about six weeks of effective memory) keep one odd
# week from redrawing the profile.
SHARE_PROFILE_HALF_LIFE: Final = timedelta(days=28)
# A coarser slot's share is worth this many trials to a finer one. At 200 trials a share's
# standard error is at most 3.5 points, below the 5-point swing worth paging on, so a slot
# overrides its parent once its own history can resolve a swing that matters; the parent is
# never worth more, because the slot may genuinely differ from it.
SHARE_PRIOR_WEIGHT: Final = 200.0


@dataclass(frozen=True, slots=True)
class SeasonalShareConfig:
    interval: timedelta = timedelta(minutes=5)
    # The overall share follows the brand's drift within days ...
    level_half_life: timedelta = timedelta(days=7)
    # ... while the shape of its day and week changes slowly.
    profile_half_life: timedelta = SHARE_PROFILE_HALF_LIFE
    prior_weight: float = SHARE_PRIOR_WEIGHT


@dataclass(frozen=True, slots=True)
class ShareExpectation:
    """A seasonal share and how many trials it is worth as the baseline of a proportion test."""

    share: float
    strength: float


class _DecayedProportions:
    """Exponentially decayed hits and trials per slot; a slot decays only when visited."""

    def __init__(self, slots: int, decay_per_visit: float) -> None:
        self.hits = [0.0] * slots
        self.trials = [0.0] * slots
        self.decay_per_visit = decay_per_visit

    def add(self, slot: int, hits: float, trials: float) -> None:
        self.hits[slot] = self.hits[slot] * self.decay_per_visit + hits
        self.trials[slot] = self.trials[slot] * self.decay_per_visit + trials

    def shrunk(self, slot: int, parent: ShareExpectation, prior_weight: float) -> ShareExpectation:
        """The slot's share, pulled toward its parent's as if the parent were `prior` extra trials."""
        prior = min(prior_weight, parent.strength)
        trials = self.trials[slot] + prior
        if trials <= 0:
            return parent
        return ShareExpectation((self.hits[slot] + prior * parent.share) / trials, trials)


class SeasonalShare:
    """Expected share per hour-of-week slot, learned online from decayed counts.

    Shrinkage runs down a hierarchy: the overall share (fast to learn, follows drift), the hour
    of day (learned within days, so a new brand's quiet nights stop looking odd after the
    first ones), the hour of week (learned over weeks: Monday mornings, Friday nights). With
    little history a slot's expectation is its parent's; with plenty, its own. The expectation
    is worth the slot's own trials plus at most `prior_weight` of its parent's, which is what
    a significance test against it may lean on.

    `update` must be called once per interval, in time order, empty intervals included: slots
    decay per visit, so a slot's weights halve every `profile_half_life` of wall-clock time.
    """

    def __init__(self, config: SeasonalShareConfig | None = None) -> None:
        self.config = config or SeasonalShareConfig()
        interval = self.config.interval
        self.overall = _DecayedProportions(1, 1.0 - decay_rate(interval, self.config.level_half_life))
        # A slot of one hour is visited once per interval for an hour, then not for a day (or a
        # week): decaying it per visit by the time a visit stands for keeps its half-life.
        self.hour_of_day = _DecayedProportions(
            HOURS_PER_DAY, 1.0 - decay_rate(interval * HOURS_PER_DAY, self.config.profile_half_life)
        )
        self.hour_of_week = _DecayedProportions(
            HOURS_PER_WEEK, 1.0 - decay_rate(interval * HOURS_PER_WEEK, self.config.profile_half_life)
        )

    def expected(self, timestamp: datetime) -> ShareExpectation:
        """The share expected at this time of week (0, worth 0 trials, before any data)."""
        trials = self.overall.trials[0]
        overall = ShareExpectation(self.overall.hits[0] / trials if trials > 0 else 0.0, trials)
        weight = self.config.prior_weight
        daily = self.hour_of_day.shrunk(timestamp.hour, overall, weight)
        return self.hour_of_week.shrunk(hour_of_week(timestamp), daily, weight)

    def update(self, timestamp: datetime, hits: float, trials: float) -> None:
        trials = max(trials, 0.0)
        hits = min(max(hits, 0.0), trials)
        self.overall.add(0, hits, trials)
        self.hour_of_day.add(timestamp.hour, hits, trials)
        self.hour_of_week.add(hour_of_week(timestamp), hits, trials)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": config_to_json(self.config),
            "overall": [list(self.overall.hits), list(self.overall.trials)],
            "hour_of_day": [list(self.hour_of_day.hits), list(self.hour_of_day.trials)],
            "hour_of_week": [list(self.hour_of_week.hits), list(self.hour_of_week.trials)],
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SeasonalShare:
        baseline = cls(config_from_json(SeasonalShareConfig, document["config"]))
        for profile, (hits, trials) in (
            (baseline.overall, document["overall"]),
            (baseline.hour_of_day, document["hour_of_day"]),
            (baseline.hour_of_week, document["hour_of_week"]),
        ):
            profile.hits = [float(value) for value in hits]
            profile.trials = [float(value) for value in trials]
        return baseline
