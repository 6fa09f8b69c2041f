"""Types shared by the sentiment scorers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, NamedTuple, Protocol

SentimentLabel = Literal["positive", "neutral", "negative", "unsupported"]
POLAR_LABELS: Final[tuple[SentimentLabel, ...]] = ("negative", "neutral", "positive")


class Sentiment(NamedTuple):
    """A label and a score in -1..1 (negative to positive); `unsupported` always scores 0."""

    label: SentimentLabel
    score: float


UNSUPPORTED: Final = Sentiment("unsupported", 0.0)


class SentimentScorer(Protocol):
    @property
    def model_version(self) -> str: ...

    def score(self, text: str, language: str | None = None) -> Sentiment: ...

    def score_many(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Sentiment]: ...
