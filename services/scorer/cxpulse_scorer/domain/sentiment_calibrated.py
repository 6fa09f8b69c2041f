"""A sentiment scorer calibrated on the user's own labels, read from a JSON model file.

The model is a multinomial logistic regression over three blocks of features: TF-IDF word uni-
and bigrams of the rule tokeniser's tokens, TF-IDF character 3- to 5-grams inside each word
(`char_ngram_terms`: they share evidence between "delay", "delayed" and "delaaayed", and
between misspellings, which word terms cannot), and the rules' own readings
(`rule_features`). Each TF-IDF block is normalised on its own, so neither drowns the other.
It is fitted by `sentiment_training` (scikit-learn); scoring needs only this module, numpy
and the JSON file. The file holds no pickle and no code, only numbers and terms.
Version 1 files, without the character block, still load.
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

import numpy as np
import numpy.typing as npt

from cxpulse_scorer.domain.sentiment_rules import RULES_MODEL_VERSION, SIGNAL_NAMES, TextAnalysis, analyse
from cxpulse_scorer.domain.sentiment_types import POLAR_LABELS, UNSUPPORTED, Sentiment, SentimentLabel

MODEL_FORMAT: Final = "cxpulse-sentiment-calibration"
MODEL_FORMAT_VERSION: Final = 2
_READABLE_FORMAT_VERSIONS: Final = frozenset({1, MODEL_FORMAT_VERSION})
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
CHAR_NGRAM_SIZES: Final = (3, 4, 5)
# Word boundaries are part of a character n-gram (" del", "yed "), as in scikit-learn's char_wb.
_WORD_BOUNDARY: Final = " "
# Distinct words whose known character n-grams are remembered; beyond it, recomputed.
_WORD_CACHE_SIZE: Final = 50_000


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


def _word_char_ngrams(word: str) -> list[str]:
    padded = f"{_WORD_BOUNDARY}{word}{_WORD_BOUNDARY}"
    length = len(padded)
    grams: list[str] = []
    for size in CHAR_NGRAM_SIZES:
        if length <= size:
            grams.append(padded)
            break
        grams.extend(padded[start : start + size] for start in range(length - size + 1))
    return grams


def char_ngram_terms(tokens: Sequence[str]) -> list[str]:
    """Character 3- to 5-grams of each word token padded with a space each side; words shorter
    than an n-gram size count once, whole."""
    return [gram for token in tokens if token[0].isalpha() for gram in _word_char_ngrams(token)]


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


TermTable = Mapping[str, tuple[float, tuple[float, ...]]]


def _add_block_logits(logits: list[float], terms: Sequence[str], table: TermTable) -> None:
    """Add one TF-IDF block's contribution to `logits`, with sublinear tf and l2 normalisation as
    TfidfVectorizer(sublinear_tf=True) computes them."""
    counts: dict[str, int] = {}
    for term in terms:
        if term in table:
            counts[term] = counts.get(term, 0) + 1
    if not counts:
        return
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


class CharNgramBlock:
    """The character n-gram block: about ten times as many terms per text as the word block,
    so it is scored with numpy, and each word's known n-grams are looked up once and remembered
    (feedback repeats its words)."""

    def __init__(self, terms: Sequence[str], idf: Sequence[float], weights: Sequence[Sequence[float]]) -> None:
        """`weights` holds one row per class with one weight per term."""
        self._columns = {term: column for column, term in enumerate(terms)}
        self._idf: npt.NDArray[np.float64] = np.asarray(idf, dtype=np.float64)
        # (terms, classes), idf folded in as for the word block
        self._idf_weights: npt.NDArray[np.float64] = np.asarray(weights, dtype=np.float64).T * self._idf[:, None]
        self._word_columns: dict[str, npt.NDArray[np.intp]] = {}

    def _columns_of(self, word: str) -> npt.NDArray[np.intp]:
        cached = self._word_columns.get(word)
        if cached is None:
            columns = self._columns
            cached = np.asarray([columns[gram] for gram in _word_char_ngrams(word) if gram in columns], dtype=np.intp)
            if len(self._word_columns) < _WORD_CACHE_SIZE:
                self._word_columns[word] = cached
        return cached

    def add_logits(self, logits: list[float], tokens: Sequence[str]) -> None:
        """As `_add_block_logits`, for the character n-grams of the word tokens."""
        parts = [self._columns_of(token) for token in tokens if token[0].isalpha()]
        if not parts:
            return
        columns, counts = np.unique(np.concatenate(parts), return_counts=True)
        if not columns.size:
            return
        tf = 1.0 + np.log(counts)
        norm = float(np.sqrt(np.sum((tf * self._idf[columns]) ** 2))) or 1.0
        for class_index, total in enumerate((tf @ self._idf_weights[columns]).tolist()):
            logits[class_index] += total / norm


@dataclass(frozen=True, slots=True)
class CalibrationModel:
    """The numbers of a fitted model, arranged for scoring one text at a time.

    `term_weights[term]` is (idf, idf x weight per class): with the idf folded in, the word
    block's logits need one pass over its terms and one division by its TF-IDF norm at the end.
    Version 1 models have no `char_block`.
    """

    classes: tuple[SentimentLabel, ...]
    term_weights: TermTable
    rule_weights: tuple[tuple[float, ...], ...]
    intercepts: tuple[float, ...]
    char_block: CharNgramBlock | None = None

    def probabilities(self, analysis: TextAnalysis) -> list[float]:
        logits = list(self.intercepts)
        _add_block_logits(logits, ngram_terms(analysis.tokens), self.term_weights)
        if self.char_block is not None:
            self.char_block.add_logits(logits, analysis.tokens)
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


def _term_rows(
    document: dict[str, object], terms_key: str, idf_key: str, weights_key: str, classes: int
) -> tuple[list[str], list[float], list[list[float]]]:
    terms = document.get(terms_key)
    if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
        raise ModelFileError(f"{terms_key}: expected a list of strings")
    if len(set(terms)) != len(terms):
        raise ModelFileError(f"{terms_key}: every term must appear once")
    idf = _as_float_list(document.get(idf_key), len(terms), idf_key)
    rows = document.get(weights_key)
    if not isinstance(rows, list) or len(rows) != classes:
        raise ModelFileError(f"{weights_key}: expected one row per class")
    return terms, idf, [_as_float_list(row, len(terms), f"{weights_key} row") for row in rows]


def parse_model(document: object) -> CalibrationModel:
    """Validate a decoded model file and turn it into scoring tables."""
    if not isinstance(document, dict):
        raise ModelFileError("a sentiment model file holds a JSON object")
    format_version = document.get("format_version")
    if document.get("format") != MODEL_FORMAT or format_version not in _READABLE_FORMAT_VERSIONS:
        raise ModelFileError(
            f"not a {MODEL_FORMAT} v1 or v{MODEL_FORMAT_VERSION} file "
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
    terms, idf, term_matrix = _term_rows(document, "terms", "idf", "term_weights", len(classes))
    term_weights = {
        term: (idf[column], tuple(idf[column] * row[column] for row in term_matrix))
        for column, term in enumerate(terms)
    }
    char_block = (
        CharNgramBlock(*_term_rows(document, "char_terms", "char_idf", "char_term_weights", len(classes)))
        if format_version == MODEL_FORMAT_VERSION
        else None
    )
    rule_rows = document.get("rule_weights")
    if not isinstance(rule_rows, list) or len(rule_rows) != len(classes):
        raise ModelFileError("rule_weights: expected one row per class")
    rule_matrix = [_as_float_list(row, len(RULE_FEATURE_NAMES), "rule_weights row") for row in rule_rows]
    intercepts = _as_float_list(document.get("intercepts"), len(classes), "intercepts")
    rule_weights = tuple(tuple(row[feature] for row in rule_matrix) for feature in range(len(RULE_FEATURE_NAMES)))
    return CalibrationModel(classes, term_weights, rule_weights, tuple(intercepts), char_block)


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
