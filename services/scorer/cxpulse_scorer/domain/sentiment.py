"""Sentiment of customer feedback: the public entry points of the scorer's sentiment domain.

- `load_scorer(None)` gives the default CX rules (`sentiment_rules`); `load_scorer(path)` gives a
  scorer calibrated on the user's own labels (`sentiment_calibrated`), fitted by
  `cxpulse sentiment fit`.
- Every scorer returns `Sentiment(label, score)`: label positive / neutral / negative /
  unsupported, score in -1..1, and names what scored it in `model_version`.
- `sentiment_from_score` is the rule for a survey answered without a comment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cxpulse_scorer.domain.sentiment_calibrated import CalibratedScorer, load_calibrated_scorer
from cxpulse_scorer.domain.sentiment_rules import RULES_MODEL_VERSION, RuleScorer, TextAnalysis, analyse
from cxpulse_scorer.domain.sentiment_types import (
    POLAR_LABELS,
    UNSUPPORTED,
    Sentiment,
    SentimentLabel,
    SentimentScorer,
)

__all__ = [
    "POLAR_LABELS",
    "RULES_MODEL_VERSION",
    "SURVEY_BANDS",
    "UNSUPPORTED",
    "CalibratedScorer",
    "RuleScorer",
    "Sentiment",
    "SentimentLabel",
    "SentimentScorer",
    "TextAnalysis",
    "analyse",
    "load_scorer",
    "sentiment_from_score",
]

# metric: (lowest score, highest negative, highest neutral, highest score).
SURVEY_BANDS: Final[dict[str, tuple[int, int, int, int]]] = {
    "nps": (0, 6, 8, 10),
    "csat": (1, 2, 3, 5),
    "ces": (1, 3, 4, 7),
}

# Band scores: negative answers spread over -1..-0.25, neutral ones over -0.1..0.1 and positive
# ones over 0.25..1, so a survey score lands on the same side of the text thresholds as its label.
_POLAR_BAND_EDGE: Final = 0.25
_NEUTRAL_BAND_HALF_WIDTH: Final = 0.1


def _position(value: int, low: int, high: int) -> float:
    """Where `value` sits between `low` and `high`, 0..1 (0.5 for a one-value band)."""
    return 0.5 if high == low else (value - low) / (high - low)


def sentiment_from_score(metric: str, score: int) -> Sentiment:
    """Sentiment of a survey answer without a comment.

    NPS 0-6 negative, 7-8 neutral, 9-10 positive; CSAT 1-2 / 3 / 4-5; CES 1-3 / 4 / 5-7 (a
    7-point "how easy was it" scale, higher is easier).
    """
    bands = SURVEY_BANDS.get(metric.lower())
    if bands is None:
        raise ValueError(f"unknown survey metric {metric!r}; expected one of {', '.join(SURVEY_BANDS)}")
    lowest, highest_negative, highest_neutral, highest = bands
    if isinstance(score, bool) or not isinstance(score, int) or not lowest <= score <= highest:
        raise ValueError(f"{metric} score must be an integer between {lowest} and {highest}, got {score!r}")
    if score <= highest_negative:
        if highest_negative == lowest:
            return Sentiment("negative", -1.0)
        fraction = (score - lowest) / (highest_negative - lowest)
        return Sentiment("negative", -1.0 + (1.0 - _POLAR_BAND_EDGE) * fraction)
    if score <= highest_neutral:
        fraction = _position(score, highest_negative + 1, highest_neutral)
        return Sentiment("neutral", _NEUTRAL_BAND_HALF_WIDTH * (2.0 * fraction - 1.0))
    if highest == highest_neutral + 1:
        return Sentiment("positive", 1.0)
    fraction = (score - highest_neutral - 1) / (highest - highest_neutral - 1)
    return Sentiment("positive", _POLAR_BAND_EDGE + (1.0 - _POLAR_BAND_EDGE) * fraction)


def load_scorer(model_path: Path | None = None) -> SentimentScorer:
    """The default rules without a path; the calibrated model stored at `model_path` with one.

    Raises `ValueError` when the file is not a model this version can read.
    """
    if model_path is None:
        return RuleScorer()
    return load_calibrated_scorer(model_path)
