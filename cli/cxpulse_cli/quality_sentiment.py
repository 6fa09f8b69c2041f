"""Sentiment quality section of `cxpulse quality`, measured on the shared airline tweets.

The default scorer is hand-written and never fitted to this file; it is measured here only.
Calibration is measured airline by airline: fitted on two airlines, tested on the third, next
to a plain TF-IDF + logistic-regression baseline fitted and tested on the same rows in the same
run. Models fitted here live in memory only and are never written anywhere.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from cxpulse_scorer.domain.sentiment import POLAR_LABELS, RuleScorer, SentimentScorer
from cxpulse_scorer.domain.sentiment_calibrated import scorer_from_bytes
from cxpulse_scorer.domain.sentiment_training import FitSummary, fit_calibration

AIRLINE_TWEETS: Final = Path("airline_tweets/tweets_dev.csv")

# Figures quoted from the data README (vaderSentiment 3.3.2, compound cut-offs +-0.05).
VADER_ACCURACY: Final = 0.45
VADER_MACRO_F1: Final = 0.38
BASELINE_KNOWN_MACRO_F1: Final = "about 0.60, 0.73 and 0.72"

GOAL_DEFAULT_MACRO_F1: Final = 0.62
GOAL_CALIBRATION_MARGIN: Final = 0.03
GOAL_PATHOLOGICAL_MS: Final = 10.0

PATHOLOGICAL_INPUTS: Final[dict[str, str]] = {
    '100 KB of "good but bad "': ("good but bad " * (100_000 // len("good but bad ") + 1))[:100_000],
    "4,000 emoji": "\U0001f600" * 4_000,
}
_TIMING_REPEATS: Final = 50
_THROUGHPUT_REPEATS: Final = 3
_BASELINE_MAX_ITERATIONS: Final = 1_000


@dataclass(frozen=True, slots=True)
class FoldResult:
    test_airline: str
    train_rows: int
    test_rows: int
    calibrated_macro_f1: float
    calibrated_accuracy: float
    baseline_macro_f1: float
    baseline_accuracy: float
    regularisation: float
    design: str


@dataclass(frozen=True, slots=True)
class SentimentQuality:
    rows: int
    default_macro_f1: float
    default_accuracy: float
    default_unsupported: int
    folds: list[FoldResult]
    pathological_max_ms: dict[str, float]
    pathological_max_wall_ms: dict[str, float]
    default_texts_per_second: float
    calibrated_texts_per_second: float


@dataclass(frozen=True, slots=True)
class _Tweet:
    airline: str
    text: str
    label: str


def _read_tweets(path: Path) -> list[_Tweet]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            _Tweet(row["airline"], row["text"], row["airline_sentiment"])
            for row in csv.DictReader(handle)
            if row["airline_sentiment"] in POLAR_LABELS
        ]


def _macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    # Scored over the three gold labels: an `unsupported` answer on an English tweet counts as wrong.
    return float(f1_score(gold, predicted, labels=list(POLAR_LABELS), average="macro", zero_division=0))


def _accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return float(accuracy_score(gold, predicted))


def _baseline_predictions(train: list[_Tweet], test: list[_Tweet]) -> list[str]:
    # Of the plain TF-IDF + LR set-ups tried, this was the strongest on these folds, so the
    # calibration is compared with the hardest honest baseline rather than the default one.
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        LogisticRegression(class_weight="balanced", max_iter=_BASELINE_MAX_ITERATIONS),
    )
    with threadpool_limits(limits=1):
        pipeline.fit([tweet.text for tweet in train], [tweet.label for tweet in train])
        return [str(label) for label in pipeline.predict([tweet.text for tweet in test])]


def _calibrated_scorer(train: list[_Tweet]) -> tuple[SentimentScorer, FitSummary]:
    document, summary = fit_calibration([tweet.text for tweet in train], [tweet.label for tweet in train])
    return scorer_from_bytes(json.dumps(document).encode()), summary


def _max_ms(score: Callable[[str], object], text: str) -> tuple[float, float]:
    """Slowest of several runs, as (CPU ms of this thread, wall-clock ms).

    The goal is judged on CPU time: it is the work the text costs, whereas wall-clock time on
    a shared machine also counts whoever else had the core at that moment.
    """
    slowest_cpu = slowest_wall = 0.0
    for _ in range(_TIMING_REPEATS):
        wall_started = time.perf_counter()
        cpu_started = time.thread_time()
        score(text)
        slowest_cpu = max(slowest_cpu, time.thread_time() - cpu_started)
        slowest_wall = max(slowest_wall, time.perf_counter() - wall_started)
    return slowest_cpu * 1_000, slowest_wall * 1_000


def _texts_per_second(scorer: SentimentScorer, texts: list[str]) -> float:
    fastest = float("inf")
    for _ in range(_THROUGHPUT_REPEATS):
        started = time.perf_counter()
        scorer.score_many(texts)
        fastest = min(fastest, time.perf_counter() - started)
    return len(texts) / fastest if fastest > 0 else float("inf")


def measure_sentiment_quality(data_dir: Path) -> SentimentQuality:
    """Run every measurement; raises FileNotFoundError when the shared file is absent."""
    tweets = _read_tweets(data_dir / AIRLINE_TWEETS)
    texts = [tweet.text for tweet in tweets]
    gold = [tweet.label for tweet in tweets]
    default = RuleScorer()
    default_labels = [sentiment.label for sentiment in default.score_many(texts)]

    folds: list[FoldResult] = []
    calibrated: list[SentimentScorer] = []
    for airline in sorted({tweet.airline for tweet in tweets}):
        train = [tweet for tweet in tweets if tweet.airline != airline]
        test = [tweet for tweet in tweets if tweet.airline == airline]
        test_gold = [tweet.label for tweet in test]
        scorer, summary = _calibrated_scorer(train)
        calibrated.append(scorer)
        calibrated_labels = [sentiment.label for sentiment in scorer.score_many([tweet.text for tweet in test])]
        baseline_labels = _baseline_predictions(train, test)
        folds.append(
            FoldResult(
                test_airline=airline,
                train_rows=len(train),
                test_rows=len(test),
                calibrated_macro_f1=_macro_f1(test_gold, calibrated_labels),
                calibrated_accuracy=_accuracy(test_gold, calibrated_labels),
                baseline_macro_f1=_macro_f1(test_gold, baseline_labels),
                baseline_accuracy=_accuracy(test_gold, baseline_labels),
                regularisation=summary.regularisation,
                design=summary.design,
            )
        )

    pathological_cpu: dict[str, float] = {}
    pathological_wall: dict[str, float] = {}
    for name, text in PATHOLOGICAL_INPUTS.items():
        timings = [_max_ms(scorer.score, text) for scorer in [default, *calibrated[:1]]]
        pathological_cpu[name] = max(cpu for cpu, _ in timings)
        pathological_wall[name] = max(wall for _, wall in timings)

    return SentimentQuality(
        rows=len(tweets),
        default_macro_f1=_macro_f1(gold, default_labels),
        default_accuracy=_accuracy(gold, default_labels),
        default_unsupported=default_labels.count("unsupported"),
        folds=folds,
        pathological_max_ms=pathological_cpu,
        pathological_max_wall_ms=pathological_wall,
        default_texts_per_second=_texts_per_second(default, texts),
        calibrated_texts_per_second=_texts_per_second(calibrated[0], texts) if calibrated else 0.0,
    )


def sentiment_quality_figures(quality: SentimentQuality) -> dict[str, object]:
    """The measured figures as plain data, for JSON next to the Markdown."""
    return asdict(quality)


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def render_sentiment_quality(quality: SentimentQuality) -> str:
    default_met = quality.default_macro_f1 >= GOAL_DEFAULT_MACRO_F1
    lines = [
        "## Sentiment",
        "",
        f"Measured on `{AIRLINE_TWEETS}` ({quality.rows:,} tweets about three US airlines, labelled by "
        "crowd raters). The default scorer is hand-written CX rules, never fitted to this file.",
        "",
        "| scorer | accuracy | macro-F1 | goal | |",
        "|---|---|---|---|---|",
        f"| default CX rules | {quality.default_accuracy:.2f} | {quality.default_macro_f1:.2f} | "
        f"macro-F1 >= {GOAL_DEFAULT_MACRO_F1:.2f} | {_verdict(default_met)} |",
        f"| VADER (reference, quoted) | {VADER_ACCURACY:.2f} | {VADER_MACRO_F1:.2f} | | |",
        "",
        f"The default scorer answered `unsupported` (language) on {quality.default_unsupported} "
        f"tweet{'' if quality.default_unsupported == 1 else 's'}, counted as wrong.",
        "",
        "### Calibration on the user's own labels, airline by airline",
        "",
        "Fitted on two airlines, tested on the third, in this run; nothing fitted here is stored. "
        "Calibrated (`cxpulse sentiment fit`): TF-IDF word uni- and bigrams, TF-IDF character 3- to "
        "5-grams within words and the rules' readings, each TF-IDF block normalised on its own; the "
        "classifier (multinomial logistic regression, or NB-weighted one-vs-rest logistic regression "
        "after Wang and Manning's NBSVM) and its regularisation C are chosen together by 3-fold "
        "cross-validation on the training airlines only. Baseline: TF-IDF "
        "word uni- and bigrams (sublinear tf, min_df 2) + logistic regression (balanced class "
        f"weights) on the raw text, same folds; a TF-IDF + LR baseline is known to score "
        f"{BASELINE_KNOWN_MACRO_F1}. "
        f"Goal: calibrated >= baseline + {GOAL_CALIBRATION_MARGIN:.2f} macro-F1 on every fold.",
        "",
        "| test airline | train / test rows | calibrated macro-F1 | baseline macro-F1 | margin "
        "| calibrated acc. | baseline acc. | chosen design, C | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fold in quality.folds:
        margin = fold.calibrated_macro_f1 - fold.baseline_macro_f1
        lines.append(
            f"| {fold.test_airline} | {fold.train_rows:,} / {fold.test_rows:,} | {fold.calibrated_macro_f1:.2f} "
            f"| {fold.baseline_macro_f1:.2f} | {margin:+.3f} | {fold.calibrated_accuracy:.2f} "
            f"| {fold.baseline_accuracy:.2f} | {fold.design}, {fold.regularisation:g} "
            f"| {_verdict(margin >= GOAL_CALIBRATION_MARGIN)} |"
        )
    lines += [
        "",
        "### Bounded work per text",
        "",
        f"Slowest of {_TIMING_REPEATS} runs per scorer, default rules and a calibrated model alike.",
        "",
        "| input | max CPU ms per text | max wall-clock ms | goal (CPU) | |",
        "|---|---|---|---|---|",
    ]
    for name, milliseconds in quality.pathological_max_ms.items():
        wall = quality.pathological_max_wall_ms[name]
        lines.append(
            f"| {name} | {milliseconds:.2f} | {wall:.2f} | < {GOAL_PATHOLOGICAL_MS:.0f} ms "
            f"| {_verdict(milliseconds < GOAL_PATHOLOGICAL_MS)} |"
        )
    lines += [
        "",
        f"`score_many` throughput on these tweets: {quality.default_texts_per_second:,.0f} texts/s (default), "
        f"{quality.calibrated_texts_per_second:,.0f} texts/s (calibrated), single thread.",
        "",
    ]
    return "\n".join(lines)


def sentiment_quality_section(data_dir: Path) -> str:
    """The Markdown section; says so instead of failing when the shared data is absent."""
    path = data_dir / AIRLINE_TWEETS
    if not path.is_file():
        return f"## Sentiment\n\nSkipped: `{path}` not found (the shared evaluation data is not on this machine).\n"
    return render_sentiment_quality(measure_sentiment_quality(data_dir))
