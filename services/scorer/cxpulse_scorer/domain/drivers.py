"""Key drivers: which topics move a stage's sentiment, with effect size and significance.

From per-topic sums only (n, Σx, Σx²), so they come straight from stored counts: the events
mentioning a topic are compared with the stage's other events by Welch's t-test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

ALL_TOPICS = "_all"


@dataclass(frozen=True)
class Driver:
    topic: str
    mentions: int
    mean_with: float
    mean_without: float
    effect: float
    cohens_d: float | None
    p_value: float | None
    significant: bool


def _moments(n: int, total: float, squares: float) -> tuple[float, float]:
    mean = total / n
    variance = max(0.0, (squares - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    return mean, variance


def key_drivers(
    sums: dict[str, tuple[int, int, int]],
    *,
    scale: float = 1000.0,
    min_mentions: int = 5,
    alpha: float = 0.05,
) -> list[Driver]:
    """`sums` maps topic -> (n, Σ, Σ²) of sentiment in units of 1/scale; `_all` is the whole stage."""
    if ALL_TOPICS not in sums:
        return []
    all_n, all_sum, all_squares = sums[ALL_TOPICS]
    drivers = []
    for topic, (n, total, squares) in sums.items():
        rest_n = all_n - n
        if topic == ALL_TOPICS or n < min_mentions or rest_n < 2:
            continue
        mean_with, var_with = _moments(n, total / scale, squares / scale**2)
        mean_without, var_without = _moments(rest_n, (all_sum - total) / scale, (all_squares - squares) / scale**2)
        effect = mean_with - mean_without
        standard_error = math.sqrt(var_with / n + var_without / rest_n)
        p_value: float | None = None
        if standard_error > 0:
            t_statistic = effect / standard_error
            freedom = (var_with / n + var_without / rest_n) ** 2 / (
                (var_with / n) ** 2 / max(n - 1, 1) + (var_without / rest_n) ** 2 / max(rest_n - 1, 1)
            )
            p_value = float(2 * stats.t.sf(abs(t_statistic), freedom))
        pooled = math.sqrt((var_with + var_without) / 2)
        drivers.append(
            Driver(
                topic=topic,
                mentions=n,
                mean_with=round(mean_with, 4),
                mean_without=round(mean_without, 4),
                effect=round(effect, 4),
                cohens_d=round(effect / pooled, 3) if pooled > 0 else None,
                p_value=round(p_value, 6) if p_value is not None else None,
                significant=p_value is not None and p_value < alpha,
            )
        )
    return sorted(drivers, key=lambda driver: (not driver.significant, -abs(driver.effect)))
