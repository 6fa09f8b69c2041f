"""Seasonal baselines of the rate and share detectors: the usual peak is not news, the same rise off-peak is.

Each scenario repeats a daily pattern for two simulated weeks, then plays a third Monday on
which the usual peak comes as always and the same rise also happens at an hour it never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pytest

from cxpulse_alerts.domain.detectors import (
    LIVE_ALERT_THRESHOLD,
    DetectorSignal,
    NegativeSwing,
    SatisfactionDrop,
    ShareRise,
    TopicBurst,
    Velocity,
)
from cxpulse_alerts.domain.seasonal import SeasonalShare, SeasonalShareConfig, hour_of_week

START = datetime(2024, 3, 4, 0, 0)  # a Monday
INTERVAL = timedelta(minutes=5)
PER_HOUR = 12
PER_DAY = 24 * PER_HOUR
TEST_DAY = 14 * PER_DAY  # the third Monday


@dataclass(frozen=True)
class Rise:
    """On the test day, from `hour` for `hours`, the pattern's value is replaced by `value`."""

    hour: int
    hours: int
    value: float

    def rows(self) -> range:
        return range(TEST_DAY + self.hour * PER_HOUR, TEST_DAY + (self.hour + self.hours) * PER_HOUR)


def replay_shares(
    detector: ShareRise,
    *,
    total_at: Callable[[int], int],
    share_at: Callable[[int], float],
    rise: Rise,
    seed: int,
) -> list[DetectorSignal]:
    """Two weeks and a day of binomial hits out of `total_at(hour)`, one interval at a time."""
    rng = np.random.default_rng(seed)
    signals = []
    for row in range(TEST_DAY + PER_DAY):
        at = START + INTERVAL * row
        share = rise.value if row in rise.rows() else share_at(at.hour)
        total = total_at(at.hour)
        signals.append(detector.observe(at, float(rng.binomial(total, share)), float(total)))
    return signals


def replay_counts(
    detector: Velocity, *, rate_at: Callable[[int], float], rise: Rise, seed: int
) -> list[DetectorSignal]:
    rng = np.random.default_rng(seed)
    signals = []
    for row in range(TEST_DAY + PER_DAY):
        at = START + INTERVAL * row
        rate = rise.value if row in rise.rows() else rate_at(at.hour)
        signals.append(detector.observe(at, float(rng.poisson(rate))))
    return signals


def strongest(signals: list[DetectorSignal], rows: range) -> float:
    return max(signals[row].score for row in rows)


def hours_of_test_day(first: int, last: int) -> range:
    """Rows whose readings cover the test day's hours `first` up to `last` (exclusive), window included."""
    return range(TEST_DAY + first * PER_HOUR, TEST_DAY + last * PER_HOUR)


SECOND_WEEK = range(7 * PER_DAY, TEST_DAY)


def test_negative_swing_expects_the_grumpy_night_and_pages_on_the_same_share_at_noon() -> None:
    def night_owls_are_grumpier(hour: int) -> float:
        return 0.40 if hour < 6 else 0.12

    signals = replay_shares(
        NegativeSwing(),
        total_at=lambda hour: 30,
        share_at=night_owls_are_grumpier,
        rise=Rise(hour=12, hours=1, value=0.40),
        seed=21,
    )

    assert strongest(signals, SECOND_WEEK) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(0, 7)) < LIVE_ALERT_THRESHOLD
    noon = signals[TEST_DAY + 13 * PER_HOUR - 1]
    assert noon.score >= LIVE_ALERT_THRESHOLD
    assert noon.baseline == pytest.approx(0.12, abs=0.03)
    night = signals[TEST_DAY + 6 * PER_HOUR - 1]
    assert night.baseline == pytest.approx(0.40, abs=0.05)  # the expectation the night is judged by


def test_satisfaction_drop_expects_the_bad_morning_and_pages_on_the_same_answers_in_the_afternoon() -> None:
    def morning_rush(hour: int) -> float:
        return 0.45 if 5 <= hour < 11 else 0.15

    signals = replay_shares(
        SatisfactionDrop(),
        total_at=lambda hour: 4,
        share_at=morning_rush,
        rise=Rise(hour=14, hours=6, value=0.45),
        seed=22,
    )

    assert strongest(signals, SECOND_WEEK) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(5, 14)) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(14, 20)) >= LIVE_ALERT_THRESHOLD


def test_topic_burst_expects_lunchtime_talk_and_pages_on_the_same_share_at_night() -> None:
    def lunch_topic(hour: int) -> float:
        return 0.30 if 11 <= hour < 14 else 0.03

    signals = replay_shares(
        TopicBurst(),
        total_at=lambda hour: 10 if hour < 7 else 30,
        share_at=lunch_topic,
        rise=Rise(hour=3, hours=1, value=0.30),
        seed=23,
    )

    assert strongest(signals, SECOND_WEEK) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(10, 15)) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(3, 4)) >= LIVE_ALERT_THRESHOLD


def test_velocity_expects_the_morning_ramp_and_pages_on_the_same_ramp_at_night() -> None:
    def seven_oclock_ramp(hour: int) -> float:
        return 3.0 if hour < 7 else 40.0

    signals = replay_counts(Velocity(), rate_at=seven_oclock_ramp, rise=Rise(hour=2, hours=1, value=40.0), seed=24)

    first_ramp = range(7 * PER_HOUR, 9 * PER_HOUR)
    assert strongest(signals, first_ramp) >= LIVE_ALERT_THRESHOLD  # before the profile is learned, a ramp is news
    assert strongest(signals, SECOND_WEEK) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(6, 10)) < LIVE_ALERT_THRESHOLD
    assert strongest(signals, hours_of_test_day(2, 3)) >= LIVE_ALERT_THRESHOLD


def test_negative_swing_still_needs_volume_on_a_quiet_brand() -> None:
    """A brand with one judged mention an hour never reaches the floor, whatever its share does."""
    signals = replay_shares(
        NegativeSwing(),
        total_at=lambda hour: 1 if hour % 12 == 0 else 0,
        share_at=lambda hour: 0.1,
        rise=Rise(hour=12, hours=6, value=1.0),
        seed=25,
    )

    assert all(signal.score == 0.0 for signal in signals)


def test_a_new_slot_is_shrunk_toward_the_hour_of_day_and_the_overall_share() -> None:
    baseline = SeasonalShare(SeasonalShareConfig(prior_weight=100.0))
    for row in range(PER_DAY):
        at = START + INTERVAL * row
        baseline.update(at, 8.0 if at.hour == 3 else 2.0, 10.0)

    monday_three = baseline.expected(START + timedelta(hours=3))
    tuesday_three = baseline.expected(START + timedelta(days=1, hours=3))
    tuesday_noon = baseline.expected(START + timedelta(days=1, hours=12))

    # Hour 3 of the day: 96 hits in 120 trials, plus 100 trials at the overall share (about 0.225).
    assert tuesday_three.share == pytest.approx((96 + 100 * 0.225) / 220, abs=0.02)
    assert tuesday_three.strength == pytest.approx(100.0)  # a slot without history leans on 100 trials, no more
    # Monday 03:00 has the same 120 trials of its own on top, which pull it further toward 0.8.
    assert tuesday_three.share < monday_three.share < 0.8
    assert tuesday_noon.share == pytest.approx(0.2, abs=0.02)
    assert monday_three.strength > tuesday_three.strength


def test_empty_baseline_expects_nothing_and_is_worth_nothing() -> None:
    expectation = SeasonalShare().expected(START)

    assert (expectation.share, expectation.strength) == (0.0, 0.0)
    assert hour_of_week(START + timedelta(days=6, hours=23)) == 167


@pytest.mark.parametrize("detector_type", [NegativeSwing, SatisfactionDrop, TopicBurst])
def test_share_detectors_round_trip_through_json(detector_type: type[ShareRise]) -> None:
    detector = detector_type()
    rng = np.random.default_rng(26)
    stamps = [START + INTERVAL * row for row in range(2 * PER_DAY)]
    for at in stamps[:-12]:
        detector.observe(at, float(rng.binomial(30, 0.2)), 30.0)

    restored = detector_type.from_dict(json.loads(json.dumps(detector.to_dict())))

    assert restored.to_dict() == detector.to_dict()
    for at in stamps[-12:]:
        assert restored.observe(at, 15.0, 30.0) == detector.observe(at, 15.0, 30.0)


def test_velocity_round_trips_with_its_seasonal_baseline() -> None:
    detector = Velocity()
    rng = np.random.default_rng(27)
    stamps = [START + INTERVAL * row for row in range(2 * PER_DAY)]
    for at in stamps[:-6]:
        detector.observe(at, float(rng.poisson(20)))

    restored = Velocity.from_dict(json.loads(json.dumps(detector.to_dict())))

    for at in stamps[-6:]:
        assert restored.observe(at, 60.0) == detector.observe(at, 60.0)


def test_state_from_before_the_seasonal_baselines_still_restores() -> None:
    """Detector state a running service saved in Redis before the upgrade must not stop it."""
    old_config = {"interval": 300.0, "window": 3600.0, "baseline_half_life": 604800.0, "significance_half": 5.0}
    old_swing = {
        "kind": "negative_swing",
        "config": {**old_config, "min_share_increase": 0.05, "min_total": 20.0},
        "recent": [[3.0, 10.0]] * 12,
        "baseline_negative": 400.0,
        "baseline_total": 2000.0,
    }
    old_velocity = {
        "kind": "velocity",
        "config": {"interval": 300.0, "window": 1800.0, "significance_half": 5.0, "min_count": 20.0},
        "recent": [5.0] * 12,
    }

    swing = NegativeSwing.from_dict(old_swing)
    velocity = Velocity.from_dict(old_velocity)

    expectation = swing.baseline.expected(START)
    assert expectation.share == pytest.approx(0.2)
    assert swing.observe(START, 2.0, 10.0).baseline == pytest.approx(0.2)
    assert velocity.observe(START, 5.0).score == 0.0
