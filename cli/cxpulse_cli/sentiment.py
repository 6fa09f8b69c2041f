"""`cxpulse sentiment`: calibrate the sentiment scorer on your own labels, and try it out.

    cxpulse sentiment fit --labelled FILE.csv --output MODEL.json
        FILE.csv has a header with columns `text` and `label` (positive / neutral / negative).
    cxpulse sentiment fit --from-surveys FILE.csv --output MODEL.json [--metric nps]
        Survey answers labelled by their own scores: detractor -> negative, passive -> neutral,
        promoter -> positive (NPS 0-6 / 7-8 / 9-10, CSAT 1-2 / 3 / 4-5, CES 1-3 / 4 / 5-7).
        Columns: `comment` (the free text), `score` (an integer; rows without a comment or a
        score are skipped)
        and, optionally, `metric` (nps, csat or ces) per row; without that column every row uses
        --metric. Other column names: --comment-column, --score-column, --metric-column.
    cxpulse sentiment score [--model MODEL.json] "text" ...
        Prints label, score and model version per text (the default rules without --model).

The model file is JSON (terms and weights, no pickle); point the scorer service at it to
use it. Its model version is derived from its content.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from cxpulse_scorer.domain.sentiment import POLAR_LABELS, SURVEY_BANDS, load_scorer, sentiment_from_score
from cxpulse_scorer.domain.sentiment_calibrated import model_version_of

EXIT_USAGE = 2


class InputFileError(ValueError):
    """A CSV the user gave cannot be read as asked."""


class SurveyComments(NamedTuple):
    texts: list[str]
    labels: list[str]
    skipped_without_score: int


def _open_rows(path: Path, required: list[str]) -> tuple[list[dict[str, str]], list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            missing = [column for column in required if column not in columns]
            if missing:
                raise InputFileError(
                    f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}"
                )
            return list(reader), columns
    except OSError as error:
        raise InputFileError(f"cannot read {path}: {error}") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputFileError(f"{path}: cannot read it as a UTF-8 CSV file: {error}") from error


def read_labelled(path: Path, text_column: str = "text", label_column: str = "label") -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV with `text,label` columns; blank texts are skipped."""
    rows, _ = _open_rows(path, [text_column, label_column])
    texts: list[str] = []
    labels: list[str] = []
    for line, row in enumerate(rows, start=2):
        text = (row.get(text_column) or "").strip()
        if not text:
            continue
        label = (row.get(label_column) or "").strip().lower()
        if label not in POLAR_LABELS:
            raise InputFileError(
                f"{path}:{line}: label must be one of {', '.join(POLAR_LABELS)}, got {row.get(label_column)!r}"
            )
        texts.append(text)
        labels.append(label)
    return texts, labels


def _parse_score(raw: str) -> int:
    """Survey exports write 9 or 9.0; anything else is an error, not a guess."""
    try:
        return int(raw)
    except ValueError:
        value = float(raw)
        if not value.is_integer():
            raise ValueError(f"score must be a whole number, got {raw!r}") from None
        return int(value)


def survey_label(metric: str, score: int) -> str:
    """Detractor -> negative, passive -> neutral, promoter -> positive (and CSAT / CES alike)."""
    return sentiment_from_score(metric, score).label


def read_surveys(
    path: Path,
    default_metric: str | None,
    comment_column: str = "comment",
    score_column: str = "score",
    metric_column: str = "metric",
) -> SurveyComments:
    """Comments labelled by their own survey scores; rows without a comment or score are skipped."""
    rows, columns = _open_rows(path, [comment_column, score_column])
    has_metric = metric_column in columns
    if not has_metric and default_metric is None:
        raise InputFileError(f"{path}: no `{metric_column}` column; say which metric with --metric")
    texts: list[str] = []
    labels: list[str] = []
    without_score = 0
    for line, row in enumerate(rows, start=2):
        comment = (row.get(comment_column) or "").strip()
        if not comment:
            continue
        raw_score = (row.get(score_column) or "").strip()
        if not raw_score:
            without_score += 1
            continue
        metric = ((row.get(metric_column) or "").strip() if has_metric else "") or default_metric
        if metric is None:
            raise InputFileError(f"{path}:{line}: empty metric and no --metric given")
        try:
            label = survey_label(metric, _parse_score(raw_score))
        except ValueError as error:
            raise InputFileError(f"{path}:{line}: {error}") from error
        texts.append(comment)
        labels.append(label)
    return SurveyComments(texts, labels, without_score)


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        # mkstemp creates 0600; the scorer service may run as another user and must read it
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fit(args: argparse.Namespace) -> int:
    # Imported here: training needs scikit-learn, which `score` and the service never load.
    from cxpulse_scorer.domain.sentiment_training import TrainingDataError, fit_calibration

    try:
        if args.labelled is not None:
            texts, labels = read_labelled(args.labelled)
            source = f"labelled texts from {args.labelled}"
        else:
            texts, labels, without_score = read_surveys(
                args.from_surveys, args.metric, args.comment_column, args.score_column, args.metric_column
            )
            source = f"survey comments from {args.from_surveys}, labelled by their scores"
            if without_score:
                print(f"left out {without_score} comments without a score")
        document, summary = fit_calibration(texts, labels)
    except (InputFileError, TrainingDataError) as error:
        print(f"cxpulse sentiment fit: {error}", file=sys.stderr)
        return EXIT_USAGE
    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    _write_atomically(args.output, payload)
    counts = ", ".join(f"{label} {count}" for label, count in summary.class_counts.items())
    print(f"fitted on {summary.examples} {source} ({counts})")
    if summary.skipped_unsupported:
        print(f"left out {summary.skipped_unsupported} texts in a language the scorer does not read")
    if summary.cross_validated_macro_f1 is not None:
        print(
            f"cross-validated macro-F1 {summary.cross_validated_macro_f1:.3f} "
            f"({summary.design}, regularisation C={summary.regularisation:g}, {summary.terms} terms)"
        )
    for note in summary.notes:
        print(f"note: {note}")
    print(f"wrote {args.output} (model version {model_version_of(payload)})")
    return 0


def _score(args: argparse.Namespace) -> int:
    try:
        scorer = load_scorer(args.model)
    except ValueError as error:
        print(f"cxpulse sentiment score: {error}", file=sys.stderr)
        return EXIT_USAGE
    for text, sentiment in zip(args.texts, scorer.score_many(args.texts), strict=True):
        result: dict[str, Any] = {
            "label": sentiment.label,
            "score": round(sentiment.score, 4),
            "model_version": scorer.model_version,
            "text": text,
        }
        print(json.dumps(result, ensure_ascii=False))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sentiment",
        help="calibrate the sentiment scorer on your own labels, or score a text",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="sentiment_command", required=True)

    fit = commands.add_parser("fit", help="fit a calibrated sentiment model (JSON) on your own data")
    sources = fit.add_mutually_exclusive_group(required=True)
    sources.add_argument("--labelled", type=Path, metavar="FILE.csv", help="CSV with columns text,label")
    sources.add_argument(
        "--from-surveys",
        type=Path,
        metavar="FILE.csv",
        help="CSV of survey answers with columns comment,score[,metric], labelled by their scores",
    )
    fit.add_argument("--output", type=Path, required=True, metavar="MODEL.json")
    fit.add_argument(
        "--metric",
        choices=sorted(SURVEY_BANDS),
        help="survey metric for rows without a metric column (with --from-surveys)",
    )
    fit.add_argument("--comment-column", default="comment", help="with --from-surveys (default: comment)")
    fit.add_argument("--score-column", default="score", help="with --from-surveys (default: score)")
    fit.add_argument("--metric-column", default="metric", help="with --from-surveys (default: metric)")
    fit.set_defaults(func=_fit)

    score = commands.add_parser("score", help="score texts with the default rules or a fitted model")
    score.add_argument("--model", type=Path, metavar="MODEL.json", help="a model written by `sentiment fit`")
    score.add_argument("texts", nargs="+", metavar="TEXT")
    score.set_defaults(func=_score)
