from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cxpulse_cli import nab
from cxpulse_cli.quality_nab import (
    PUBLISHED_SCORES,
    REPRODUCTION_TOLERANCE,
    ROW_TOLERANCE,
    measure_per_file_raw_scores,
    measure_reproduction,
)

STANDARD = nab.CostProfile("standard", true_positive_weight=1.0, false_positive_weight=0.11, false_negative_weight=1.0)
LOW_FN = nab.CostProfile("reward_low_FN_rate", 1.0, 0.11, 2.0)
START = datetime(2015, 3, 1)
ROWS = 100
# Rows 40..49 (ten rows); the probationary period is the first 15 rows.
WINDOW = nab.AnomalyWindow(START + timedelta(minutes=5 * 40), START + timedelta(minutes=5 * 49))
MAX_TP = 2 / (1 + math.exp(-5)) - 1


def stamps(count: int = ROWS) -> list[datetime]:
    return [START + timedelta(minutes=5 * row) for row in range(count)]


def detections(*rows: int, count: int = ROWS) -> list[float]:
    return [1.0 if row in rows else 0.0 for row in range(count)]


def score(*rows: int, profile: nab.CostProfile = STANDARD) -> float:
    series = nab.ScoredSeries("tiny", stamps(), detections(*rows), [WINDOW])
    return nab.score_file(series, profile, threshold=0.5).score


def test_scaled_sigmoid_matches_nab() -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.0) == pytest.approx(2 / (1 + math.exp(15)) - 1)
    assert nab.scaled_sigmoid(3.0001) == -1.0


def test_probationary_period_is_fifteen_percent_capped_at_750_rows() -> None:
    assert nab.probationary_length(100) == 15
    assert nab.probationary_length(4999) == 749
    assert nab.probationary_length(15_900) == 750


def test_early_detection_in_a_window_scores_more_than_a_late_one() -> None:
    early, late = score(40), score(49)

    assert early == pytest.approx(1.0)  # the left edge is worth the full true-positive weight
    assert late == pytest.approx(nab.scaled_sigmoid(-0.1) / MAX_TP)
    assert early > late > 0


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert score(42, 45, 48) == pytest.approx(score(42))


def test_a_missed_window_costs_the_false_negative_weight() -> None:
    assert score() == -1.0
    assert score(profile=LOW_FN) == -2.0


def test_false_positive_costs_depend_on_the_distance_past_the_window() -> None:
    before_any_window = score(20) - score()
    just_after = score(50) - score()
    far_after = score(80) - score()

    assert before_any_window == pytest.approx(-0.11)
    assert just_after == pytest.approx(0.11 * nab.scaled_sigmoid(1 / 9))
    assert -0.11 < just_after < 0
    assert far_after == pytest.approx(-0.11)  # 31 rows past a 10-row window is beyond 3 widths


def test_detections_in_the_probationary_period_are_ignored() -> None:
    assert score(5) == score()
    weights = nab.row_weights(stamps(), [WINDOW], STANDARD)
    assert [weight.scorable for weight in weights[14:16]] == [False, True]


def test_a_detection_exactly_at_the_threshold_counts() -> None:
    series = nab.ScoredSeries("tiny", stamps(), [0.5 if row == 40 else 0.0 for row in range(ROWS)], [WINDOW])

    assert nab.score_file(series, STANDARD, threshold=0.5).score == pytest.approx(1.0)
    assert nab.score_file(series, STANDARD, threshold=0.5000001).score == -1.0


def test_row_weights_and_contributions_agree_with_the_file_score() -> None:
    scores = detections(5, 20, 43, 47, 52, 90)
    weights = nab.row_weights(stamps(), [WINDOW], STANDARD)
    contributions = nab.row_contributions(weights, scores, 0.5, STANDARD)
    file_score = nab.score_rows(weights, scores, 0.5, STANDARD)

    assert sum(contributions) == pytest.approx(file_score.score)
    assert contributions[40] == pytest.approx(weights[43].weight)  # a window's result sits on its first row
    assert (file_score.true_positives, file_score.false_positives) == (2, 3)
    assert nab.detected_windows(weights, scores, 0.5) == {0}


def test_normalisation_runs_from_null_to_perfect() -> None:
    def corpus(*rows: int) -> float:
        series = nab.ScoredSeries("tiny", stamps(), detections(*rows), [WINDOW])
        return nab.score_corpus([series], STANDARD, threshold=0.5).normalised

    assert corpus() == 0.0
    assert corpus(40) == pytest.approx(100.0)
    assert 0.0 < corpus(45) < 100.0
    assert corpus(20) < 0.0


def test_profiles_and_windows_load_from_nab_json(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.json"
    profiles.write_text(
        json.dumps({"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}})
    )
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps({"a.csv": [["2015-03-01 03:20:00.000000", "2015-03-01 04:05:00.000000"]]}))

    assert nab.load_profiles(profiles) == [STANDARD]
    assert nab.load_windows(windows) == {"a.csv": [WINDOW]}


def test_reproduces_the_published_nab_figures(shared_data: Path) -> None:
    rows = measure_reproduction(shared_data)

    assert len(rows) == 3 * len(PUBLISHED_SCORES)
    for row in rows:
        assert row.ours == pytest.approx(row.published, abs=REPRODUCTION_TOLERANCE), row
        assert row.max_row_difference <= ROW_TOLERANCE, row


def test_reproduces_the_published_raw_scores_per_file(shared_data: Path) -> None:
    difference, rows = measure_per_file_raw_scores(shared_data)

    assert rows == 45
    assert difference < 1e-6
