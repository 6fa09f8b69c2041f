"""Fit a calibrated sentiment model on the user's own labelled texts (needs scikit-learn).

Only `cxpulse sentiment fit` and the quality report import this module; the scorer service
reads the resulting JSON through `sentiment_calibrated` and never imports scikit-learn.
The regularisation strength is chosen by stratified cross-validation on the training texts
alone, so nothing about any evaluation set leaks into the fit.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

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
    ngram_terms,
    rule_features,
)
from cxpulse_scorer.domain.sentiment_rules import RULES_MODEL_VERSION, analyse
from cxpulse_scorer.domain.sentiment_types import POLAR_LABELS

REGULARISATION_GRID: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
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


def _classifier(regularisation: float) -> LogisticRegression:
    return LogisticRegression(C=regularisation, class_weight="balanced", max_iter=_MAX_ITERATIONS)


def _choose_regularisation(
    features: sparse.csr_matrix, targets: np.ndarray[Any, Any], folds: int, seed: int
) -> tuple[float, float | None]:
    smallest_class = min(Counter(targets.tolist()).values())
    folds = min(folds, smallest_class)
    if folds < 2:
        return DEFAULT_REGULARISATION, None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(targets)), targets))
    best_c, best_f1 = DEFAULT_REGULARISATION, -1.0
    for regularisation in REGULARISATION_GRID:
        scores = []
        for train_rows, test_rows in splits:
            model = _classifier(regularisation).fit(features[train_rows], targets[train_rows])
            predicted = model.predict(features[test_rows])
            scores.append(f1_score(targets[test_rows], predicted, average="macro"))
        mean = float(np.mean(scores))
        if mean > best_f1:
            best_c, best_f1 = regularisation, mean
    return best_c, best_f1


def fit_calibration(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = CROSS_VALIDATION_FOLDS,
    seed: int = 0,
) -> tuple[dict[str, object], FitSummary]:
    """Fit on `texts` labelled positive / neutral / negative; returns the JSON document to store.

    Texts the rules find to be in an unsupported language are left out: the scorer never
    asks the model about them.
    """
    if len(texts) != len(labels):
        raise TrainingDataError(f"got {len(texts)} texts but {len(labels)} labels")
    term_lists: list[list[str]] = []
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
        rule_rows.append(rule_features(analysis))
        kept_labels.append(cleaned_label)
    class_counts = Counter(kept_labels)
    if len(class_counts) < 2:
        raise TrainingDataError(f"need texts of at least two labels to calibrate, got {dict(class_counts) or 'none'}")
    vectoriser = TfidfVectorizer(
        analyzer=_terms_as_document,
        sublinear_tf=True,
        min_df=2 if len(term_lists) >= _MIN_TEXTS_FOR_MIN_DF else 1,
    )
    term_matrix = vectoriser.fit_transform(term_lists)
    features = sparse.hstack([term_matrix, sparse.csr_matrix(np.asarray(rule_rows))]).tocsr()
    classes: list[str] = [label for label in POLAR_LABELS if label in class_counts]
    targets = np.asarray([classes.index(label) for label in kept_labels])
    notes: list[str] = []
    # One thread: these fits are small, and BLAS threads only fight each other on a busy machine.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
        warnings.simplefilter("always", ConvergenceWarning)
        regularisation, cv_f1 = _choose_regularisation(features, targets, folds, seed)
        final = _classifier(regularisation).fit(features, targets)
    if any(issubclass(warning.category, ConvergenceWarning) for warning in caught):
        notes.append("the solver stopped before converging; the model may be slightly off optimum")
    if cv_f1 is None:
        notes.append("too few texts per label to cross-validate; used the default regularisation")
    coefficients = np.asarray(final.coef_)
    intercepts = np.asarray(final.intercept_)
    if len(classes) == 2:
        # A binary fit has one logit; as softmax over [0, logit] it scores the same.
        coefficients = np.vstack([np.zeros_like(coefficients[0]), coefficients[0]])
        intercepts = np.asarray([0.0, intercepts[0]])
    term_count = term_matrix.shape[1]
    vocabulary: dict[str, int] = vectoriser.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    document: dict[str, object] = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "rules_version": RULES_MODEL_VERSION,
        "classes": classes,
        "terms": terms,
        "idf": [round(float(value), _WEIGHT_DIGITS) for value in vectoriser.idf_],
        "term_weights": [[round(float(value), _WEIGHT_DIGITS) for value in row[:term_count]] for row in coefficients],
        "rule_features": list(RULE_FEATURE_NAMES),
        "rule_weights": [[round(float(value), _WEIGHT_DIGITS) for value in row[term_count:]] for row in coefficients],
        "intercepts": [round(float(value), _WEIGHT_DIGITS) for value in intercepts],
        "training": {
            "examples": len(kept_labels),
            "skipped_unsupported": skipped,
            "class_counts": {label: class_counts[label] for label in classes},
            "regularisation": regularisation,
            "cross_validated_macro_f1": None if cv_f1 is None else round(cv_f1, 4),
        },
    }
    summary = FitSummary(
        examples=len(kept_labels),
        skipped_unsupported=skipped,
        class_counts={label: class_counts[label] for label in classes},
        regularisation=regularisation,
        cross_validated_macro_f1=cv_f1,
        terms=len(terms),
        notes=notes,
    )
    return document, summary
