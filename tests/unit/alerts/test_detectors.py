from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pytest

from cxpulse_alerts.domain.detectors import (
    LIVE_ALERT_THRESHOLD,
    AlertGate,
    AlertGateConfig,
    DetectorSignal,
    NegativeSwing,
    Velocity,
    VolumeSpike,
    VolumeSpikeConfig,
    significance_score,
    two_proportion_z,
)
from cxpulse_alerts.domain.seasonal import SeasonalBaseline, anscombe

START = datetime(2024, 3, 4, 0, 0)  # a Monday
INTERVAL = timedelta(minutes=5)
PER_DAY = 288


def seasonal_rates(days: int, *, mean: float) -> np.ndarray:
    """Mentions per 5 minutes: busy afternoons, quiet nights, quieter weekends."""
    rows = np.arange(days * PER_DAY)
    hour = (rows % PER_DAY) / 12.0
    weekday = (rows // PER_DAY) % 7
    daily = 1.0 + 0.7 * np.sin(2 * math.pi * (hour - 9.0) / 24.0)
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    return mean * daily * weekly


def poisson_counts(rates: np.ndarray, seed: int) -> list[float]:
    return [float(count) for count in np.random.default_rng(seed).poisson(rates)]


def timestamps(count: int) -> list[datetime]:
    return [START + INTERVAL * row for row in range(count)]


def replay(
    detector: VolumeSpike, counts: Sequence[float], authors: Sequence[float] | None = None
) -> list[DetectorSignal]:
    return [
        detector.observe(at, count, unique_authors=None if authors is None else authors[row])
        for row, (at, count) in enumerate(zip(timestamps(len(counts)), counts, strict=True))
    ]


def first_page(signals: list[DetectorSignal]) -> int | None:
    return next((row for row, signal in enumerate(signals) if signal.pages), None)


def test_steady_seasonal_pattern_never_pages() -> None:
    counts = poisson_counts(seasonal_rates(21, mean=40.0), seed=1)

    signals = replay(VolumeSpike(), counts)

    assert not any(signal.pages for signal in signals)
    assert max(signal.score for signal in signals) < LIVE_ALERT_THRESHOLD


def test_baseline_learns_the_hour_of_day() -> None:
    rates = seasonal_rates(17, mean=40.0)
    baseline = SeasonalBaseline()
    for at, count in zip(timestamps(16 * PER_DAY), poisson_counts(rates, seed=2)[: 16 * PER_DAY], strict=True):
        baseline.update(at, count)

    afternoon, night = START + timedelta(days=16, hours=15), START + timedelta(days=16, hours=3)

    assert baseline.expected_count(afternoon) == pytest.approx(rates[16 * PER_DAY + 15 * 12], rel=0.25)
    assert baseline.expected_count(night) == pytest.approx(rates[16 * PER_DAY + 3 * 12], rel=0.5)
    assert baseline.expected_count(afternoon) > 3 * baseline.expected_count(night)


def test_a_burst_pages_within_minutes() -> None:
    rates = seasonal_rates(21, mean=40.0)
    burst = 16 * PER_DAY + 14 * 12  # a Wednesday, 14:00
    rates[burst : burst + 6] *= 8
    signals = replay(VolumeSpike(), poisson_counts(rates, seed=3))

    assert first_page(signals) in range(burst, burst + 3)
    assert sum(signal.pages for signal in signals) == 1
    paged = signals[burst + 2]
    assert paged.observed > 4 * paged.baseline


def test_a_sustained_step_pages_even_without_a_burst() -> None:
    rates = seasonal_rates(21, mean=40.0)
    step = 15 * PER_DAY + 10 * 12
    rates[step : step + 8 * 12] *= 3.0

    signals = replay(VolumeSpike(), poisson_counts(rates, seed=4))

    page = first_page(signals)
    assert page is not None
    assert step <= page < step + 2 * 12


def test_a_spike_pages_on_a_small_and_a_large_brand_alike() -> None:
    """One threshold for every brand: the score does not grow with the brand's size."""
    results = {}
    for mean in (8.0, 800.0):
        rates = seasonal_rates(21, mean=mean)
        burst = 16 * PER_DAY + 14 * 12
        rates[burst : burst + 6] *= 6
        signals = replay(VolumeSpike(), poisson_counts(rates, seed=5))
        results[mean] = max(signal.evidence for signal in signals[burst : burst + 6])

    assert min(results.values()) >= LIVE_ALERT_THRESHOLD
    assert abs(results[8.0] - results[800.0]) < 0.15


def test_low_volume_noise_does_not_page() -> None:
    rates = seasonal_rates(21, mean=0.4)
    counts = poisson_counts(rates, seed=6)
    for row in range(3 * PER_DAY, len(counts), PER_DAY // 2):
        counts[row] += 4  # a handful of mentions at once, twice a day

    signals = replay(VolumeSpike(), counts)

    assert not any(signal.pages for signal in signals)


def test_few_accounts_cannot_fake_a_crisis() -> None:
    rates = seasonal_rates(21, mean=40.0)
    burst = 16 * PER_DAY + 14 * 12
    rates[burst : burst + 6] *= 8
    counts = poisson_counts(rates, seed=7)
    diverse = [float(round(0.9 * count)) for count in counts]
    bot_storm = list(diverse)
    for row in range(burst, burst + 6):
        bot_storm[row] = 30.0  # the extra mentions come from a few accounts

    assert first_page(replay(VolumeSpike(), counts, diverse)) is not None
    assert first_page(replay(VolumeSpike(), counts, bot_storm)) is None


def test_nothing_pages_during_the_warm_up() -> None:
    rates = seasonal_rates(4, mean=40.0)
    rates[PER_DAY : PER_DAY + 6] *= 10

    signals = replay(VolumeSpike(), poisson_counts(rates, seed=8))

    assert all(signal.score == 0.0 for signal in signals[: 2 * PER_DAY])


def test_scores_are_between_zero_and_one() -> None:
    rates = seasonal_rates(10, mean=20.0)
    rates[6 * PER_DAY : 6 * PER_DAY + 30] *= 50
    for signal in replay(VolumeSpike(), poisson_counts(rates, seed=9)):
        assert 0.0 <= signal.score <= 1.0
        assert 0.0 <= signal.evidence <= 1.0


def test_no_look_ahead_and_deterministic() -> None:
    rates = seasonal_rates(8, mean=30.0)
    rates[5 * PER_DAY : 5 * PER_DAY + 12] *= 6
    counts = poisson_counts(rates, seed=10)

    full = replay(VolumeSpike(), counts)
    again = replay(VolumeSpike(), counts)
    truncated = replay(VolumeSpike(), counts[: 5 * PER_DAY + 6])

    assert full == again
    assert full[: len(truncated)] == truncated


def test_intervals_must_come_in_order() -> None:
    detector = VolumeSpike()
    detector.observe(START + INTERVAL, 3)

    with pytest.raises(ValueError, match="older"):
        detector.observe(START, 3)


def test_volume_spike_state_round_trips_through_json() -> None:
    rates = seasonal_rates(9, mean=30.0)
    rates[7 * PER_DAY : 7 * PER_DAY + 12] *= 6
    counts = poisson_counts(rates, seed=11)
    authors = [0.8 * count for count in counts]
    stamps = timestamps(len(counts))
    split = 6 * PER_DAY + 100
    config = VolumeSpikeConfig(windows=(timedelta(minutes=10), timedelta(hours=1)), min_count=5.0)
    original = VolumeSpike(config, AlertGateConfig(threshold=0.45, cooldown=timedelta(hours=6)))
    for row in range(split):
        original.observe(stamps[row], counts[row], unique_authors=authors[row])

    restored = VolumeSpike.from_dict(json.loads(json.dumps(original.to_dict())))

    assert restored.to_dict() == original.to_dict()
    for row in range(split, len(counts)):
        expected = original.observe(stamps[row], counts[row], unique_authors=authors[row])
        assert restored.observe(stamps[row], counts[row], unique_authors=authors[row]) == expected


def test_alert_gate_pages_once_per_cooldown() -> None:
    gate = AlertGate(AlertGateConfig(threshold=0.5, cooldown=timedelta(hours=1)))

    first = gate.admit(START, 0.9)
    held = gate.admit(START + timedelta(minutes=30), 0.95)
    later = gate.admit(START + timedelta(hours=2), 0.6)

    assert first == (0.9, True)
    assert held[1] is False
    assert held[0] < 0.5
    assert later == (0.6, True)
    assert AlertGate.from_dict(json.loads(json.dumps(gate.to_dict()))).to_dict() == gate.to_dict()


def test_negative_swing_flags_a_significant_rise_of_the_negative_share() -> None:
    detector = NegativeSwing()
    stamps = timestamps(3 * PER_DAY)
    for at in stamps[: 2 * PER_DAY]:
        quiet = detector.observe(at, 4, 20)
    for at in stamps[2 * PER_DAY : 2 * PER_DAY + 12]:
        swing = detector.observe(at, 12, 20)

    assert quiet.score < 0.1
    assert swing.score > LIVE_ALERT_THRESHOLD
    assert swing.observed == pytest.approx(0.6)
    assert swing.baseline == pytest.approx(0.2)


def test_negative_swing_ignores_small_samples_and_tiny_swings() -> None:
    small, large = NegativeSwing(), NegativeSwing()
    # A week of history, so the hour-of-week slot of the swing has its own baseline to test against.
    stamps = timestamps(7 * PER_DAY + 12)
    for at in stamps[: 7 * PER_DAY]:
        small.observe(at, 0, 1)
        large.observe(at, 2000, 10000)
    for at in stamps[7 * PER_DAY :]:
        small_signal = small.observe(at, 1, 1)
        large_signal = large.observe(at, 2080, 10000)

    assert small_signal.score == 0.0
    assert large_signal.z > 3  # significant, but a 0.8-point swing does not matter
    assert large_signal.score == 0.0


def test_negative_swing_round_trips() -> None:
    detector = NegativeSwing()
    for at in timestamps(30):
        detector.observe(at, 3, 10)
    restored = NegativeSwing.from_dict(json.loads(json.dumps(detector.to_dict())))
    at = START + timedelta(hours=3)

    assert restored.observe(at, 9, 10) == detector.observe(at, 9, 10)


def test_velocity_is_poisson_aware() -> None:
    slow, fast = Velocity(), Velocity()
    stamps = timestamps(12)
    for row, at in enumerate(stamps):
        slow_signal = slow.observe(at, 1 if row < 6 else 2)
        fast_signal = fast.observe(at, 100 if row < 6 else 200)

    assert slow_signal.score == 0.0  # 12 mentions after 6: below the minimum count
    assert fast_signal.observed == 1200
    assert fast_signal.baseline == 600
    assert fast_signal.z == pytest.approx(math.sqrt(200))
    assert fast_signal.score > LIVE_ALERT_THRESHOLD


def test_velocity_steady_rate_scores_low_and_round_trips() -> None:
    detector = Velocity()
    for at in timestamps(20):
        signal = detector.observe(at, 50)
    restored = Velocity.from_dict(json.loads(json.dumps(detector.to_dict())))

    assert signal.score == 0.0
    assert restored.observe(START + timedelta(hours=2), 80) == detector.observe(START + timedelta(hours=2), 80)


def test_statistics_helpers() -> None:
    assert anscombe(0) == pytest.approx(2 * math.sqrt(0.375))
    assert significance_score(-3, 5) == 0.0
    assert significance_score(5, 5) == 0.5
    assert two_proportion_z(20, 100, 200, 1000) == pytest.approx(0.0)
    assert two_proportion_z(30, 100, 200, 1000) == pytest.approx(2.3446, abs=1e-4)
    assert two_proportion_z(3, 0, 200, 1000) == 0.0
