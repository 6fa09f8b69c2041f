"""Numenta Anomaly Benchmark (NAB) scoring, following NAB's own scorer (`nab/sweeper.py`, v1.1).

Every row gets a weight (NAB's per-row `S(t)`): inside an anomaly window a scaled sigmoid of
its position, so that the earliest detection is worth the most; outside a window the
profile's false-positive weight times the sigmoid of the distance past the preceding window.
A file's score is the sum, over windows, of the best (earliest) detection's weight, or minus
the false-negative weight when a window has no detection, plus the weights of every
detection outside the windows. Rows of the probationary period are not scored. Scores over a
set of files are normalised between the null detector (0, no detection at all) and the
perfect detector (100, every window detected at its left edge).

Detections are rows whose anomaly score is at least the threshold, as in NAB.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

PROBATION_FRACTION: Final = 0.15
# NAB caps the probationary period at `fraction * 5000` rows (750 rows at 15%).
PROBATION_CAP_ROWS: Final = 5000
# Positions further than this past a window cost the full false-positive weight.
_FAR_PAST_WINDOW: Final = 3.0
# NAB's sigmoid steepness: position -1 (left edge of a window) is worth 2*sigmoid(5)-1.
_SIGMOID_STEEPNESS: Final = 5.0


@dataclass(frozen=True, slots=True)
class CostProfile:
    """One NAB application profile (`profiles.json`); true negatives are never weighted."""

    name: str
    true_positive_weight: float
    false_positive_weight: float
    false_negative_weight: float


@dataclass(frozen=True, slots=True)
class AnomalyWindow:
    """A labelled anomaly window, both ends inclusive."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RowWeight:
    """What a detection on one row would be worth, and where the row is."""

    weight: float
    window: int | None
    scorable: bool


@dataclass(frozen=True, slots=True)
class FileScore:
    score: float
    true_positives: int
    true_negatives: int
    false_positives: int
    false_negatives: int
    rows: int


@dataclass(frozen=True, slots=True)
class ScoredSeries:
    """A detector's output on one file, with the file's windows."""

    name: str
    timestamps: Sequence[datetime]
    anomaly_scores: Sequence[float]
    windows: Sequence[AnomalyWindow]


@dataclass(frozen=True, slots=True)
class CorpusScore:
    raw: float
    null: float
    perfect: float
    normalised: float
    files: dict[str, FileScore]


def parse_timestamp(text: str) -> datetime:
    """NAB timestamps: `2015-03-03 04:37:53`, with or without fractional seconds."""
    return datetime.fromisoformat(text.strip())


def load_profiles(path: Path) -> list[CostProfile]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        CostProfile(
            name=name,
            true_positive_weight=float(profile["CostMatrix"]["tpWeight"]),
            false_positive_weight=float(profile["CostMatrix"]["fpWeight"]),
            false_negative_weight=float(profile["CostMatrix"]["fnWeight"]),
        )
        for name, profile in document.items()
    ]


def load_windows(path: Path) -> dict[str, list[AnomalyWindow]]:
    """Windows per file, keyed by NAB's relative path (`realTweets/Twitter_volume_KO.csv`)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: sorted(
            (AnomalyWindow(parse_timestamp(start), parse_timestamp(end)) for start, end in limits),
            key=lambda window: window.start,
        )
        for name, limits in document.items()
    }


def probationary_length(row_count: int, fraction: float = PROBATION_FRACTION) -> float:
    """Rows at the start of a file that are never scored (NAB's `getProbationPeriod`)."""
    return min(math.floor(fraction * row_count), fraction * PROBATION_CAP_ROWS)


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's weighting: ~1 at a window's left edge, 0 at its right edge, -1 far past it."""
    if relative_position > _FAR_PAST_WINDOW:
        return -1.0
    return 2.0 / (1.0 + math.exp(_SIGMOID_STEEPNESS * relative_position)) - 1.0


def _window_bounds(timestamps: Sequence[datetime], windows: Sequence[AnomalyWindow]) -> list[tuple[int, int]]:
    bounds = []
    for window in windows:
        left = bisect.bisect_left(timestamps, window.start)
        right = bisect.bisect_right(timestamps, window.end) - 1
        if left <= right:
            bounds.append((left, right))
    return bounds


def row_weights(
    timestamps: Sequence[datetime],
    windows: Sequence[AnomalyWindow],
    profile: CostProfile,
    probation_fraction: float = PROBATION_FRACTION,
) -> list[RowWeight]:
    """NAB's per-row `S(t)` (`Sweeper.calcSweepScore`), with each row's window, if any."""
    max_true_positive = scaled_sigmoid(-1.0)
    probation = probationary_length(len(timestamps), probation_fraction)
    window_of_row: dict[int, tuple[int, int, int]] = {}
    for window, (left, right) in enumerate(_window_bounds(timestamps, windows)):
        for row in range(left, right + 1):
            window_of_row[row] = (window, left, right)

    weights = []
    previous_right: int | None = None
    previous_width = 0
    for row in range(len(timestamps)):
        located = window_of_row.get(row)
        if located is not None:
            window, left, right = located
            width = right - left + 1
            # NAB's `+ 1` means even the right edge is worth a little more than zero.
            position = -(right - row + 1) / width
            weight = scaled_sigmoid(position) * profile.true_positive_weight / max_true_positive
            weights.append(RowWeight(weight=weight, window=window, scorable=row >= probation))
            if row == right:
                previous_right, previous_width = right, width
        else:
            if previous_right is None:
                unweighted = -1.0
            elif previous_width <= 1:
                # NAB divides by zero after a one-row window; its older scorer used 2.0 here.
                unweighted = scaled_sigmoid(2.0)
            else:
                unweighted = scaled_sigmoid(abs(previous_right - row) / (previous_width - 1))
            weight = unweighted * profile.false_positive_weight
            weights.append(RowWeight(weight=weight, window=None, scorable=row >= probation))
    return weights


def _is_detection(anomaly_score: float, threshold: float) -> bool:
    return anomaly_score >= threshold


def score_rows(
    weights: Sequence[RowWeight], anomaly_scores: Sequence[float], threshold: float, profile: CostProfile
) -> FileScore:
    """Score one file given its row weights (reused across thresholds and detectors)."""
    if len(weights) != len(anomaly_scores):
        raise ValueError(f"{len(anomaly_scores)} anomaly scores for {len(weights)} rows")
    best_in_window: dict[int, float] = {}
    false_positive_total = 0.0
    counts = {"tp": 0, "tn": 0, "fp": 0, "fn": 0}
    for weight, anomaly_score in zip(weights, anomaly_scores, strict=True):
        if not weight.scorable:
            continue
        detected = _is_detection(anomaly_score, threshold)
        if weight.window is None:
            counts["fp" if detected else "tn"] += 1
            if detected:
                false_positive_total += weight.weight
            continue
        best_in_window.setdefault(weight.window, -profile.false_negative_weight)
        counts["tp" if detected else "fn"] += 1
        if detected:
            best_in_window[weight.window] = max(best_in_window[weight.window], weight.weight)
    return FileScore(
        score=false_positive_total + sum(best_in_window.values()),
        true_positives=counts["tp"],
        true_negatives=counts["tn"],
        false_positives=counts["fp"],
        false_negatives=counts["fn"],
        rows=len(weights),
    )


def row_contributions(
    weights: Sequence[RowWeight], anomaly_scores: Sequence[float], threshold: float, profile: CostProfile
) -> list[float]:
    """Each row's share of the file score at one threshold: NAB 1.0's per-row `S(t)`.

    A window's result (its earliest detection's weight, or minus the false-negative weight)
    sits on the window's first row, a false positive's weight on its own row, zero elsewhere.
    NAB 1.1 writes `row_weights` instead. Both give the same file score unless a window lies
    wholly in the probationary period, which NAB 1.0 counts as missed and NAB 1.1 ignores.
    """
    contributions = [0.0] * len(weights)
    first_row: dict[int, int] = {}
    earliest_detection: dict[int, float] = {}
    for row, (weight, anomaly_score) in enumerate(zip(weights, anomaly_scores, strict=True)):
        if weight.window is not None:
            first_row.setdefault(weight.window, row)
        if not weight.scorable or not _is_detection(anomaly_score, threshold):
            continue
        if weight.window is None:
            contributions[row] = weight.weight
        else:
            earliest_detection.setdefault(weight.window, weight.weight)
    for window, row in first_row.items():
        contributions[row] = earliest_detection.get(window, -profile.false_negative_weight)
    return contributions


def detected_windows(weights: Sequence[RowWeight], anomaly_scores: Sequence[float], threshold: float) -> set[int]:
    """Windows with at least one scorable detection."""
    return {
        weight.window
        for weight, anomaly_score in zip(weights, anomaly_scores, strict=True)
        if weight.scorable and weight.window is not None and _is_detection(anomaly_score, threshold)
    }


def score_file(series: ScoredSeries, profile: CostProfile, threshold: float) -> FileScore:
    weights = row_weights(series.timestamps, series.windows, profile)
    return score_rows(weights, series.anomaly_scores, threshold, profile)


def null_score(weights: Sequence[RowWeight], profile: CostProfile) -> float:
    """The score of a detector that never fires: every scorable window is missed."""
    windows = {weight.window for weight in weights if weight.scorable and weight.window is not None}
    return -profile.false_negative_weight * len(windows)


def normalised_score(raw: float, null: float, perfect: float) -> float:
    """NAB's final figure: 0 for the null detector, 100 for the perfect one."""
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(series: Sequence[ScoredSeries], profile: CostProfile, threshold: float) -> CorpusScore:
    """NAB's normalised score over a set of files at one threshold.

    As in NAB's `normalize`, the perfect score counts every labelled window and the null score
    is what the never-firing detector scores on the same files.
    """
    files: dict[str, FileScore] = {}
    null = 0.0
    window_count = 0
    for one in series:
        weights = row_weights(one.timestamps, one.windows, profile)
        files[one.name] = score_rows(weights, one.anomaly_scores, threshold, profile)
        null += null_score(weights, profile)
        window_count += len(one.windows)
    raw = sum(file.score for file in files.values())
    perfect = window_count * profile.true_positive_weight
    return CorpusScore(
        raw=raw, null=null, perfect=perfect, normalised=normalised_score(raw, null, perfect), files=files
    )


def read_anomaly_scores_csv(path: Path) -> tuple[list[datetime], list[float]]:
    """The timestamps and anomaly scores of a NAB results file."""
    return _read_columns(path, "anomaly_score")


def read_columns(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        table: dict[str, list[str]] = {column: [] for column in columns}
        for row in reader:
            for column in columns:
                table[column].append(row[column])
    return table


def _read_columns(path: Path, value_column: str) -> tuple[list[datetime], list[float]]:
    table = read_columns(path, ("timestamp", value_column))
    return [parse_timestamp(text) for text in table["timestamp"]], [float(text) for text in table[value_column]]
