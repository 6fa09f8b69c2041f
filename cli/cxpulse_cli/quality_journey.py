"""Journey-stage quality section of `cxpulse quality`, measured on the shared airline tweets.

The airline taxonomy is written by hand from how airline care teams triage, and is never tuned
on this file: the same measurement must hold on airline tweets nobody here has seen. The crowd
raters' complaint reason of each negative tweet is mapped to the stage it belongs to; tweets
whose reason is "Can't Tell" or empty are left out. Only counts and rates are reported.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cxpulse_scorer.domain.journey import UNKNOWN_STAGE, StageTaxonomy, load_taxonomy
from cxpulse_scorer.domain.phrases import tokenize
from cxpulse_scorer.domain.topics import TopicTagger, load_topic_tagger

AIRLINE_TWEETS: Final = Path("airline_tweets/tweets_dev.csv")
CONFIG_DIR: Final = Path(__file__).resolve().parents[2] / "config"
AIRLINE_TAXONOMY: Final = CONFIG_DIR / "taxonomies" / "airline.yaml"
TOPICS_FILE: Final = CONFIG_DIR / "topics.yaml"

REASON_TO_STAGE: Final[dict[str, str]] = {
    "Late Flight": "flight",
    "Cancelled Flight": "flight",
    "Bad Flight": "flight",
    "Flight Attendant Complaints": "flight",
    "Lost Luggage": "baggage",
    "Damaged Luggage": "baggage",
    "Flight Booking Problems": "booking",
    "longlines": "airport",
    "Customer Service Issue": "support",
}
GOAL_ACCURACY: Final = 0.75
PATHOLOGICAL_TEXT: Final = ("delayed 3 hours on hold " * 5_000)[:100_000]
_THROUGHPUT_REPEATS: Final = 3


@dataclass(frozen=True, slots=True)
class JourneyQuality:
    rows: int
    excluded_rows: int
    correct: int
    unknown: int
    gold_counts: dict[str, int]
    predicted_counts: dict[str, int]
    confusion: dict[tuple[str, str], int]
    infer_and_tag_per_second: float
    pathological_ms: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.rows if self.rows else 0.0

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.rows if self.rows else 0.0

    @property
    def accuracy_when_known(self) -> float:
        answered = self.rows - self.unknown
        return self.correct / answered if answered else 0.0


def read_labelled_tweets(path: Path) -> tuple[list[tuple[str, str]], int]:
    """(text, gold stage) for every tweet whose complaint reason maps to a stage, and the count left out."""
    labelled: list[tuple[str, str]] = []
    excluded = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stage = REASON_TO_STAGE.get(row["negativereason"].strip())
            if stage is None:
                excluded += row["airline_sentiment"] == "negative"
                continue
            labelled.append((row["text"], stage))
    return labelled, excluded


def _texts_per_second(work: Callable[[Sequence[str]], object], texts: Sequence[str]) -> float:
    fastest = float("inf")
    for _ in range(_THROUGHPUT_REPEATS):
        started = time.perf_counter()
        work(texts)
        fastest = min(fastest, time.perf_counter() - started)
    return len(texts) / fastest if fastest > 0 else float("inf")


def _infer_and_tag(taxonomy: StageTaxonomy, tagger: TopicTagger) -> Callable[[Sequence[str]], object]:
    def work(texts: Sequence[str]) -> object:
        for text in texts:
            tokens = tokenize(text)
            taxonomy.infer_tokens(tokens)
            tagger.tag_tokens(tokens)
        return None

    return work


def measure_journey_quality(data_dir: Path) -> JourneyQuality:
    """Run every measurement; raises FileNotFoundError when the shared file is absent."""
    labelled, excluded = read_labelled_tweets(data_dir / AIRLINE_TWEETS)
    taxonomy = load_taxonomy(AIRLINE_TAXONOMY)
    tagger = load_topic_tagger(TOPICS_FILE)
    texts = [text for text, _ in labelled]
    predicted = [guess.stage for guess in taxonomy.infer_many(texts)]
    gold = [stage for _, stage in labelled]
    # CPU time of this thread: the work the text costs, not whoever else had the core meanwhile.
    started = time.thread_time()
    taxonomy.infer(PATHOLOGICAL_TEXT)
    tagger.tag(PATHOLOGICAL_TEXT)
    pathological_ms = (time.thread_time() - started) * 1_000
    return JourneyQuality(
        rows=len(labelled),
        excluded_rows=excluded,
        correct=sum(truth == guess for truth, guess in zip(gold, predicted, strict=True)),
        unknown=predicted.count(UNKNOWN_STAGE),
        gold_counts=dict(Counter(gold)),
        predicted_counts=dict(Counter(predicted)),
        confusion=dict(Counter(zip(gold, predicted, strict=True))),
        infer_and_tag_per_second=_texts_per_second(_infer_and_tag(taxonomy, tagger), texts),
        pathological_ms=pathological_ms,
    )


def render_journey_quality(quality: JourneyQuality, stages: Sequence[str]) -> str:
    met = quality.accuracy >= GOAL_ACCURACY
    columns = [*stages, UNKNOWN_STAGE]
    lines = [
        "## Journey stage",
        "",
        f"Measured on `{AIRLINE_TWEETS}`: {quality.rows:,} negative tweets whose crowd-rated complaint "
        f'reason maps to a stage ({quality.excluded_rows:,} with "Can\'t Tell" or no reason left out), '
        "with the hand-written airline taxonomy (`config/taxonomies/airline.yaml`), never tuned on this "
        "file: it is developed against tweets written for the purpose "
        "(`tests/fixtures/journey/airline_synthetic.csv`), and this file is read for aggregate figures "
        "only. Inference: weighted phrases of what failed the customer, matched through their "
        "inflections; stages within the tie ratio settled by the more specific phrase (stronger, then "
        "longer); context phrases (where the passenger was, who they are) decide only when no stage has "
        "enough complaint evidence, at half the confidence; texts with neither fall back on the words of "
        "each stage's description, examples and phrases, weighted by how few stages share them. "
        "Reasons: Late Flight, Cancelled Flight, Bad Flight, Flight Attendant Complaints -> flight; "
        "Lost Luggage, Damaged Luggage -> baggage; Flight Booking Problems -> booking; longlines -> airport; "
        "Customer Service Issue -> support.",
        "",
        "| measure | value | goal | |",
        "|---|---|---|---|",
        f"| accuracy (`unknown` counts as wrong) | {quality.accuracy:.3f} | >= {GOAL_ACCURACY:.2f} "
        f"| {'met' if met else '**not met**'} |",
        f"| share answered `unknown` | {quality.unknown_share:.3f} | | |",
        f"| accuracy when a stage is given | {quality.accuracy_when_known:.3f} | | |",
        "",
        "Confusion (rows: stage of the complaint reason; columns: inferred stage; counts):",
        "",
        "| reason stage | " + " | ".join(columns) + " | total |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for truth in stages:
        total = quality.gold_counts.get(truth, 0)
        if not total:
            continue
        cells = [str(quality.confusion.get((truth, guess), 0)) for guess in columns]
        lines.append(f"| {truth} | " + " | ".join(cells) + f" | {total:,} |")
    predicted = [str(quality.predicted_counts.get(guess, 0)) for guess in columns]
    lines += [
        "| inferred total | " + " | ".join(predicted) + f" | {quality.rows:,} |",
        "",
        f"Stage inference plus topic tagging (one tokenisation): {quality.infer_and_tag_per_second:,.0f} "
        "texts/s on these tweets, single thread; a 100 KB pathological text: "
        f"{quality.pathological_ms:.2f} ms of CPU, first run.",
        "",
    ]
    return "\n".join(lines)


def journey_quality_section(data_dir: Path) -> str:
    """The Markdown section; says so instead of failing when the shared data is absent."""
    path = data_dir / AIRLINE_TWEETS
    if not path.is_file():
        return f"## Journey stage\n\nSkipped: `{path}` not found (the shared evaluation data is not on this machine).\n"
    stages = load_taxonomy(AIRLINE_TAXONOMY).stages
    return render_journey_quality(measure_journey_quality(data_dir), stages)
