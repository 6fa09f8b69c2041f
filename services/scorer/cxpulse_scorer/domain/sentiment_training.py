"""Fit a calibrated sentiment model on the user's own labelled texts (needs scikit-learn).

Only `cxpulse sentiment fit` and the quality report import this module; the scorer service
reads the resulting JSON through `sentiment_calibrated` and never imports scikit-learn.
The classifier design and its regularisation strength are chosen together by stratified
cross-validation on the training texts alone, so nothing about any evaluation set leaks into
the fit. Two designs compete:

- `logistic`: one multinomial logistic regression over the features;
- `nb-logistic`: Wang and Manning's NBSVM idea with a logistic loss ("Baselines and Bigrams",
  ACL 2012), one-vs-rest: each class's term features are scaled by the log-ratio of how often
  the term occurs in that class's texts against the others', which stresses the terms that
  tell the classes apart before the regression weighs them. The scaling folds into the
  weights, so both designs write the same model file and score the same way.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from cxpulse_scorer.domain.sentiment_calibrated import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    RULE_FEATURE_NAMES,
    char_ngram_terms,
    ngram_terms,
    rule_features,
)
from cxpulse_scorer.domain.sentiment_rules import RULES_MODEL_VERSION, analyse
from cxpulse_scorer.domain.sentiment_types import POLAR_LABELS

REGULARISATION_GRID: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
Design = Literal["logistic", "nb-logistic"]
DESIGNS: Final[tuple[Design, ...]] = ("logistic", "nb-logistic")
DEFAULT_DESIGN: Final[Design] = "logistic"
# Add-one smoothing of the per-class term occurrence counts behind the NB log-ratios.
_NB_SMOOTHING: Final = 1.0
CROSS_VALIDATION_FOLDS: Final = 3
DEFAULT_REGULARISATION: Final = 1.0
# Below this many texts a term seen once is still worth keeping.
_MIN_TEXTS_FOR_MIN_DF: Final = 200
_WEIGHT_DIGITS: Final = 6
_MAX_ITERATIONS: Final = 2_000


class TrainingDataError(ValueError):
    """The labelled texts cannot train a model (too few, one class only, unknown labels)."""


@dataclass(frozen=True, slots=True)
class FitSummary:
    examples: int
    skipped_unsupported: int
    class_counts: dict[str, int]
    regularisation: float
    design: Design
    cross_validated_macro_f1: float | None
    terms: int
    notes: list[str] = field(default_factory=list)


def normalise_label(label: str) -> str:
    cleaned = label.strip().lower()
    if cleaned not in POLAR_LABELS:
        raise TrainingDataError(f"label must be one of {', '.join(POLAR_LABELS)}, got {label!r}")
    return cleaned


def _terms_as_document(terms: list[str]) -> list[str]:
    """The documents handed to TfidfVectorizer are already term lists."""
    return terms


def _terms_in_column_order(vectoriser: TfidfVectorizer) -> list[str]:
    vocabulary: dict[str, int] = vectoriser.vocabulary_
    return sorted(vocabulary, key=vocabulary.__getitem__)


def _rounded(values: np.ndarray[Any, Any]) -> list[float]:
    return [round(float(value), _WEIGHT_DIGITS) for value in values]


def _classifier(regularisation: float) -> LogisticRegression:
    return LogisticRegression(C=regularisation, class_weight="balanced", max_iter=_MAX_ITERATIONS)


@dataclass(frozen=True, slots=True)
class _LinearModel:
    """Weights in the scoring form: one row per class (a zero row for the first of two)."""

    coefficients: np.ndarray[Any, Any]
    intercepts: np.ndarray[Any, Any]

    def predict(self, features: sparse.csr_matrix) -> np.ndarray[Any, Any]:
        logits = features @ self.coefficients.T + self.intercepts
        return np.asarray(np.argmax(logits, axis=1)).ravel()


def _nb_log_ratios(term_presence: sparse.csr_matrix, in_class: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """log((p / |p|) / (q / |q|)), p and q the smoothed counts of texts in and out of the class
    that contain each term."""
    inside = np.asarray(term_presence[in_class].sum(axis=0)).ravel() + _NB_SMOOTHING
    outside = np.asarray(term_presence[~in_class].sum(axis=0)).ravel() + _NB_SMOOTHING
    return np.asarray(np.log((inside / inside.sum()) / (outside / outside.sum())))


def _fit_design(
    design: Design,
    regularisation: float,
    features: sparse.csr_matrix,
    targets: np.ndarray[Any, Any],
    class_count: int,
    text_columns: int,
) -> _LinearModel:
    if design == "logistic":
        fitted = _classifier(regularisation).fit(features, targets)
        coefficients, intercepts = np.asarray(fitted.coef_), np.asarray(fitted.intercept_)
        if class_count == 2:
            # A binary fit has one logit; as softmax over [0, logit] it scores the same.
            coefficients = np.vstack([np.zeros_like(coefficients[0]), coefficients[0]])
            intercepts = np.asarray([0.0, intercepts[0]])
        return _LinearModel(coefficients, intercepts)
    presence = (features[:, :text_columns] > 0).astype(np.float64)
    rule_scale = np.ones(features.shape[1] - text_columns)
    rows: list[np.ndarray[Any, Any]] = []
    biases: list[float] = []
    # Two classes need one binary fit (its logit against a zero row); more need one per class.
    for class_index in range(1 if class_count == 2 else 0, class_count):
        in_class = targets == class_index
        scale = np.concatenate([_nb_log_ratios(presence, in_class), rule_scale])
        scaled = (features @ sparse.diags(scale)).tocsr()
        fitted = _classifier(regularisation).fit(scaled, in_class.astype(np.int64))
        rows.append(np.asarray(fitted.coef_)[0] * scale)
        biases.append(float(np.asarray(fitted.intercept_)[0]))
    if class_count == 2:
        rows.insert(0, np.zeros(features.shape[1]))
        biases.insert(0, 0.0)
    return _LinearModel(np.vstack(rows), np.asarray(biases))


def _choose_design(
    features: sparse.csr_matrix,
    targets: np.ndarray[Any, Any],
    class_count: int,
    text_columns: int,
    *,
    designs: Sequence[Design],
    folds: int,
    seed: int,
) -> tuple[Design, float, float | None]:
    smallest_class = min(Counter(targets.tolist()).values())
    folds = min(folds, smallest_class)
    if folds < 2:
        return designs[0], DEFAULT_REGULARISATION, None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(targets)), targets))
    best: tuple[Design, float] = (designs[0], DEFAULT_REGULARISATION)
    best_f1 = -1.0
    for design in designs:
        for regularisation in REGULARISATION_GRID:
            scores = []
            for train_rows, test_rows in splits:
                model = _fit_design(
                    design, regularisation, features[train_rows], targets[train_rows], class_count, text_columns
                )
                scores.append(f1_score(targets[test_rows], model.predict(features[test_rows]), average="macro"))
            mean = float(np.mean(scores))
            if mean > best_f1:
                best, best_f1 = (design, regularisation), mean
    return best[0], best[1], best_f1


def fit_calibration(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = CROSS_VALIDATION_FOLDS,
    seed: int = 0,
    designs: Sequence[Design] = DESIGNS,
) -> tuple[dict[str, object], FitSummary]:
    """Fit on `texts` labelled positive / neutral / negative; returns the JSON document to store.

    Texts the rules find to be in an unsupported language are left out: the scorer never
    asks the model about them.
    """
    if len(texts) != len(labels):
        raise TrainingDataError(f"got {len(texts)} texts but {len(labels)} labels")
    term_lists: list[list[str]] = []
    char_lists: list[list[str]] = []
    rule_rows: list[list[float]] = []
    kept_labels: list[str] = []
    skipped = 0
    for text, label in zip(texts, labels, strict=True):
        cleaned_label = normalise_label(label)
        analysis = analyse(text)
        if analysis.sentiment.label == "unsupported":
            skipped += 1
            continue
        if not analysis.tokens:
            continue
        term_lists.append(ngram_terms(analysis.tokens))
        char_lists.append(char_ngram_terms(analysis.tokens))
        rule_rows.append(rule_features(analysis))
        kept_labels.append(cleaned_label)
    class_counts = Counter(kept_labels)
    if len(class_counts) < 2:
        raise TrainingDataError(f"need texts of at least two labels to calibrate, got {dict(class_counts) or 'none'}")
    min_df = 2 if len(term_lists) >= _MIN_TEXTS_FOR_MIN_DF else 1
    vectoriser = TfidfVectorizer(analyzer=_terms_as_document, sublinear_tf=True, min_df=min_df)
    char_vectoriser = TfidfVectorizer(analyzer=_terms_as_document, sublinear_tf=True, min_df=min_df)
    term_matrix = vectoriser.fit_transform(term_lists)
    char_matrix = char_vectoriser.fit_transform(char_lists)
    features = sparse.hstack([term_matrix, char_matrix, sparse.csr_matrix(np.asarray(rule_rows))]).tocsr()
    classes: list[str] = [label for label in POLAR_LABELS if label in class_counts]
    targets = np.asarray([classes.index(label) for label in kept_labels])
    notes: list[str] = []
    # One thread: these fits are small, and BLAS threads only fight each other on a busy machine.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
        warnings.simplefilter("always", ConvergenceWarning)
        text_columns = term_matrix.shape[1] + char_matrix.shape[1]
        design, regularisation, cv_f1 = _choose_design(
            features, targets, len(classes), text_columns, designs=designs, folds=folds, seed=seed
        )
        final = _fit_design(design, regularisation, features, targets, len(classes), text_columns)
    if any(issubclass(warning.category, ConvergenceWarning) for warning in caught):
        notes.append("the solver stopped before converging; the model may be slightly off optimum")
    if cv_f1 is None:
        notes.append("too few texts per label to cross-validate; used the default design and regularisation")
    coefficients = final.coefficients
    intercepts = final.intercepts
    term_count = term_matrix.shape[1]
    text_count = term_count + char_matrix.shape[1]
    terms = _terms_in_column_order(vectoriser)
    char_terms = _terms_in_column_order(char_vectoriser)
    document: dict[str, object] = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "rules_version": RULES_MODEL_VERSION,
        "classes": classes,
        "terms": terms,
        "idf": _rounded(vectoriser.idf_),
        "term_weights": [_rounded(row[:term_count]) for row in coefficients],
        "char_terms": char_terms,
        "char_idf": _rounded(char_vectoriser.idf_),
        "char_term_weights": [_rounded(row[term_count:text_count]) for row in coefficients],
        "rule_features": list(RULE_FEATURE_NAMES),
        "rule_weights": [_rounded(row[text_count:]) for row in coefficients],
        "intercepts": _rounded(intercepts),
        "training": {
            "examples": len(kept_labels),
            "skipped_unsupported": skipped,
            "class_counts": {label: class_counts[label] for label in classes},
            "regularisation": regularisation,
            "design": design,
            "cross_validated_macro_f1": None if cv_f1 is None else round(cv_f1, 4),
        },
    }
    summary = FitSummary(
        examples=len(kept_labels),
        skipped_unsupported=skipped,
        class_counts={label: class_counts[label] for label in classes},
        regularisation=regularisation,
        design=design,
        cross_validated_macro_f1=cv_f1,
        terms=len(terms) + len(char_terms),
        notes=notes,
    )
    return document, summary
