"""A sentiment scorer calibrated on the user's own labels, read from a JSON model file.

The model is a multinomial logistic regression over TF-IDF uni- and bigrams of the rule
tokeniser's tokens plus the rules' own readings (`rule_features`). It is fitted by
`sentiment_training` (scikit-learn); scoring needs only this module, plain Python and the
JSON file. The file holds no pickle and no code, only numbers and terms.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cxpulse_scorer.domain.sentiment_rules import RULES_MODEL_VERSION, SIGNAL_NAMES, TextAnalysis, analyse
from cxpulse_scorer.domain.sentiment_types import POLAR_LABELS, UNSUPPORTED, Sentiment, SentimentLabel

MODEL_FORMAT: Final = "cxpulse-sentiment-calibration"
MODEL_FORMAT_VERSION: Final = 1
CALIBRATED_VERSION_PREFIX: Final = "cx-calibrated-"

NUMBER_TERM: Final = "<num>"
RULE_FEATURE_NAMES: Final = (
    "rule_score",
    "rule_positive",
    "rule_negative",
    "rule_complaint",
    "rule_question",
    "rule_gratitude",
    "rule_sarcasm",
    "rule_label_positive",
    "rule_label_negative",
    *(f"signal_{name}" for name in SIGNAL_NAMES),
)
# Rule sums are unbounded; tanh(x / scale) keeps them on the scale of a TF-IDF weight.
_RULE_SUM_SCALE: Final = 3.0
_SIGNAL_COUNT_SCALE: Final = 2.0
_DROPPED_PUNCTUATION: Final = frozenset([",", ";"])


class ModelFileError(ValueError):
    """The model file is missing, malformed or made for another version of the rules."""


def ngram_terms(tokens: Sequence[str]) -> list[str]:
    """Unigrams and bigrams of the rule tokeniser's tokens, numbers folded to one term.

    Punctuation runs fold to their first mark ("!!!" reads as "!") and sentence breaks stay in,
    so a bigram never straddles two clauses without showing it.
    """
    normalised: list[str] = []
    for token in tokens:
        if token in _DROPPED_PUNCTUATION:
            continue
        first = token[0]
        if first.isdigit():
            normalised.append(NUMBER_TERM)
        elif first in "!?.":
            normalised.append(first)
        else:
            normalised.append(token)
    terms = list(normalised)
    terms.extend(f"{left} {right}" for left, right in itertools.pairwise(normalised))
    return terms


def rule_features(analysis: TextAnalysis) -> list[float]:
    """The rules' reading of a text, in the order of `RULE_FEATURE_NAMES`."""
    label = analysis.sentiment.label
    return [
        analysis.sentiment.score,
        math.tanh(analysis.positive / _RULE_SUM_SCALE),
        math.tanh(analysis.negative / _RULE_SUM_SCALE),
        math.tanh(analysis.complaint / _RULE_SUM_SCALE),
        1.0 if analysis.question else 0.0,
        1.0 if analysis.gratitude else 0.0,
        1.0 if analysis.sarcasm else 0.0,
        1.0 if label == "positive" else 0.0,
        1.0 if label == "negative" else 0.0,
        *(math.tanh(count / _SIGNAL_COUNT_SCALE) for count in analysis.signals),
    ]


@dataclass(frozen=True, slots=True)
class CalibrationModel:
    """The numbers of a fitted model, arranged for scoring one text at a time.

    `term_weights[term]` is (idf, idf x weight per class): with the idf folded in, a text's
    logits need one pass over its terms and one division by the TF-IDF norm at the end.
    """

    classes: tuple[SentimentLabel, ...]
    term_weights: Mapping[str, tuple[float, tuple[float, ...]]]
    rule_weights: tuple[tuple[float, ...], ...]
    intercepts: tuple[float, ...]

    def probabilities(self, analysis: TextAnalysis) -> list[float]:
        table = self.term_weights
        counts: dict[str, int] = {}
        for term in ngram_terms(analysis.tokens):
            if term in table:
                counts[term] = counts.get(term, 0) + 1
        logits = list(self.intercepts)
        if counts:
            # sublinear tf and l2 normalisation, as TfidfVectorizer(sublinear_tf=True) computes them
            sums = [0.0] * len(logits)
            norm_squared = 0.0
            for term, count in counts.items():
                idf, idf_weights = table[term]
                tf = 1.0 + math.log(count) if count > 1 else 1.0
                norm_squared += (tf * idf) ** 2
                for class_index, weight in enumerate(idf_weights):
                    sums[class_index] += tf * weight
            norm = math.sqrt(norm_squared) or 1.0
            for class_index, total in enumerate(sums):
                logits[class_index] += total / norm
        for feature, class_weights in zip(rule_features(analysis), self.rule_weights, strict=True):
            if feature:
                for class_index, weight in enumerate(class_weights):
                    logits[class_index] += feature * weight
        top = max(logits)
        exponentials = [math.exp(logit - top) for logit in logits]
        total = sum(exponentials)
        return [value / total for value in exponentials]


def _as_float_list(value: object, length: int, what: str) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise ModelFileError(f"{what}: expected a list of {length} numbers")
    numbers: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ModelFileError(f"{what}: expected finite numbers, got {item!r}")
        numbers.append(float(item))
    return numbers


def parse_model(document: object) -> CalibrationModel:
    """Validate a decoded model file and turn it into scoring tables."""
    if not isinstance(document, dict):
        raise ModelFileError("a sentiment model file holds a JSON object")
    if document.get("format") != MODEL_FORMAT or document.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"not a {MODEL_FORMAT} v{MODEL_FORMAT_VERSION} file "
            f"(format={document.get('format')!r}, version={document.get('format_version')!r})"
        )
    if document.get("rules_version") != RULES_MODEL_VERSION:
        raise ModelFileError(
            f"model was fitted on rules {document.get('rules_version')!r} but this scorer runs "
            f"{RULES_MODEL_VERSION!r}; fit it again with `cxpulse sentiment fit`"
        )
    if document.get("rule_features") != list(RULE_FEATURE_NAMES):
        raise ModelFileError("model was fitted on other rule features; fit it again with `cxpulse sentiment fit`")
    raw_classes = document.get("classes")
    if (
        not isinstance(raw_classes, list)
        or len(raw_classes) < 2
        or len(set(raw_classes)) != len(raw_classes)
        or any(label not in POLAR_LABELS for label in raw_classes)
    ):
        raise ModelFileError(f"classes must be two or three of {', '.join(POLAR_LABELS)}")
    classes: tuple[SentimentLabel, ...] = tuple(label for label in POLAR_LABELS if label in raw_classes)
    if list(classes) != raw_classes:
        raise ModelFileError(f"classes must be listed in the order {', '.join(POLAR_LABELS)}")
    terms = document.get("terms")
    if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
        raise ModelFileError("terms: expected a list of strings")
    if len(set(terms)) != len(terms):
        raise ModelFileError("terms: every term must appear once")
    idf = _as_float_list(document.get("idf"), len(terms), "idf")
    term_rows = document.get("term_weights")
    rule_rows = document.get("rule_weights")
    if not isinstance(term_rows, list) or len(term_rows) != len(classes):
        raise ModelFileError("term_weights: expected one row per class")
    if not isinstance(rule_rows, list) or len(rule_rows) != len(classes):
        raise ModelFileError("rule_weights: expected one row per class")
    term_matrix = [_as_float_list(row, len(terms), "term_weights row") for row in term_rows]
    rule_matrix = [_as_float_list(row, len(RULE_FEATURE_NAMES), "rule_weights row") for row in rule_rows]
    intercepts = _as_float_list(document.get("intercepts"), len(classes), "intercepts")
    term_weights = {
        term: (idf[column], tuple(idf[column] * row[column] for row in term_matrix))
        for column, term in enumerate(terms)
    }
    rule_weights = tuple(tuple(row[feature] for row in rule_matrix) for feature in range(len(RULE_FEATURE_NAMES)))
    return CalibrationModel(classes, term_weights, rule_weights, tuple(intercepts))


class CalibratedScorer:
    """Scores with a model fitted on the user's labels; unsupported languages stay unsupported."""

    def __init__(self, model: CalibrationModel, model_version: str) -> None:
        self._model = model
        self._model_version = model_version
        self._positive = model.classes.index("positive") if "positive" in model.classes else None
        self._negative = model.classes.index("negative") if "negative" in model.classes else None

    @property
    def model_version(self) -> str:
        return self._model_version

    def _from_analysis(self, analysis: TextAnalysis) -> Sentiment:
        if analysis.sentiment.label == "unsupported":
            return UNSUPPORTED
        if not analysis.tokens:
            return analysis.sentiment
        probabilities = self._model.probabilities(analysis)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        positive = probabilities[self._positive] if self._positive is not None else 0.0
        negative = probabilities[self._negative] if self._negative is not None else 0.0
        return Sentiment(self._model.classes[best], positive - negative)

    def score(self, text: str, language: str | None = None) -> Sentiment:
        return self._from_analysis(analyse(text, language))

    def score_many(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Sentiment]:
        if languages is None:
            return [self._from_analysis(analyse(text)) for text in texts]
        if len(languages) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(languages)} language tags")
        return [self._from_analysis(analyse(text, language)) for text, language in zip(texts, languages, strict=True)]


def model_version_of(model_bytes: bytes) -> str:
    """A fitted model is named by its content, so two runs of the same file agree."""
    return CALIBRATED_VERSION_PREFIX + hashlib.sha256(model_bytes).hexdigest()[:12]


def scorer_from_bytes(model_bytes: bytes) -> CalibratedScorer:
    try:
        document = json.loads(model_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"not a JSON sentiment model: {error}") from error
    return CalibratedScorer(parse_model(document), model_version_of(model_bytes))


def load_calibrated_scorer(model_path: Path) -> CalibratedScorer:
    try:
        model_bytes = model_path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"cannot read sentiment model {model_path}: {error}") from error
    return scorer_from_bytes(model_bytes)
