"""Journey-stage satisfaction: counts that merge exactly, and the figures derived from them.

Everything stored is an integer count, so merging buckets is plain addition: associative,
order-free and exact, which is what lets late events land in their own window and lets a
replay rebuild the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
FINE_BUCKET = timedelta(minutes=5)
COARSE_BUCKET = timedelta(hours=1)
ALL_STAGES = "_all"


@dataclass(frozen=True, slots=True)
class SatisfactionCounts:
    responses: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    csat_n: int = 0
    csat_top2: int = 0
    csat_sum: int = 0
    ces_n: int = 0
    ces_sum: int = 0
    ces_easy: int = 0
    sentiment_positive: int = 0
    sentiment_neutral: int = 0
    sentiment_negative: int = 0
    sentiment_unsupported: int = 0
    mentions: int = 0
    reach: int = 0

    def __add__(self, other: SatisfactionCounts) -> SatisfactionCounts:
        return SatisfactionCounts(*(getattr(self, field.name) + getattr(other, field.name) for field in fields(self)))

    def as_fields(self) -> dict[str, int]:
        return {name: value for name in _SATISFACTION_FIELDS if (value := getattr(self, name))}

    @classmethod
    def from_fields(cls, stored: dict[str, Any]) -> SatisfactionCounts:
        known = {field.name for field in fields(cls)}
        return cls(**{name: int(value) for name, value in stored.items() if name in known})


_SATISFACTION_FIELDS = tuple(field.name for field in fields(SatisfactionCounts))


def survey_counts(metric: str, score: int, sentiment_label: str) -> SatisfactionCounts:
    counts: dict[str, int] = {"responses": 1, _sentiment_field(sentiment_label): 1}
    if metric == "nps":
        counts.update(nps_n=1, nps_promoters=int(score >= 9), nps_detractors=int(score <= 6))
    elif metric == "csat":
        counts.update(csat_n=1, csat_top2=int(score >= 4), csat_sum=score)
    elif metric == "ces":
        counts.update(ces_n=1, ces_sum=score, ces_easy=int(score >= 5))
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return SatisfactionCounts(**counts)


def mention_counts(sentiment_label: str, reach: int) -> SatisfactionCounts:
    return SatisfactionCounts(mentions=1, reach=reach, **{_sentiment_field(sentiment_label): 1})


def _sentiment_field(label: str) -> str:
    if label not in {"positive", "neutral", "negative", "unsupported"}:
        raise ValueError(f"unknown sentiment label {label!r}")
    return f"sentiment_{label}"


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2)


@dataclass(frozen=True)
class SatisfactionFigures:
    """The API's figures; a figure is None when fewer responses than the minimum back it."""

    responses: int
    nps: float | None
    csat: float | None
    csat_mean: float | None
    ces_mean: float | None
    ces_easy_pct: float | None
    sentiment: dict[str, float | int | None]
    mentions: int
    reach: int
    sufficient: bool


def figures(counts: SatisfactionCounts, *, min_responses: int) -> SatisfactionFigures:
    """NPS = %promoters − %detractors (passives in the denominator); CSAT = % of 4–5; CES mean and % 5–7."""

    def enough(n: int) -> bool:
        return n >= min_responses and n > 0

    judged = counts.sentiment_positive + counts.sentiment_neutral + counts.sentiment_negative
    return SatisfactionFigures(
        responses=counts.responses,
        nps=_percent(counts.nps_promoters - counts.nps_detractors, counts.nps_n) if enough(counts.nps_n) else None,
        csat=_percent(counts.csat_top2, counts.csat_n) if enough(counts.csat_n) else None,
        csat_mean=round(counts.csat_sum / counts.csat_n, 3) if enough(counts.csat_n) else None,
        ces_mean=round(counts.ces_sum / counts.ces_n, 3) if enough(counts.ces_n) else None,
        ces_easy_pct=_percent(counts.ces_easy, counts.ces_n) if enough(counts.ces_n) else None,
        sentiment={
            "positive": counts.sentiment_positive,
            "neutral": counts.sentiment_neutral,
            "negative": counts.sentiment_negative,
            "unsupported": counts.sentiment_unsupported,
            "net": _percent(counts.sentiment_positive - counts.sentiment_negative, judged) if judged else None,
        },
        mentions=counts.mentions,
        reach=counts.reach,
        sufficient=enough(counts.responses),
    )


def floor_to(moment: datetime, step: timedelta) -> datetime:
    epoch = moment.astimezone(UTC).timestamp()
    seconds = step.total_seconds()
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def window_buckets(at: datetime, window: timedelta) -> list[tuple[str, datetime]]:
    """The buckets covering the window that ends with the 5-minute bucket holding `at`.

    Whole hours come from hourly buckets and the ragged edges from 5-minute buckets, so a 30-day
    window reads about 740 buckets instead of 8,640, and consecutive windows tile exactly.
    """
    end = floor_to(at, FINE_BUCKET) + FINE_BUCKET
    start = end - window
    plan: list[tuple[str, datetime]] = []
    cursor = start
    while cursor < end:
        if cursor == floor_to(cursor, COARSE_BUCKET) and cursor + COARSE_BUCKET <= end:
            plan.append(("h", cursor))
            cursor += COARSE_BUCKET
        else:
            plan.append(("m5", cursor))
            cursor += FINE_BUCKET
    return plan
