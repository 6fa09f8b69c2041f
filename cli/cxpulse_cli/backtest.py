"""`cxpulse backtest`: the alerts service's detectors, replayed offline with no stack.

`--format nab` reads a Numenta Anomaly Benchmark series (`timestamp,value` with a header row)
and writes `timestamp,value,anomaly_score`: one row per input row, the timestamp and value
fields echoed byte for byte, the score of each row computed from that row and the rows before
it only (the live detector's `observe`, one interval at a time). Deterministic.

Each format is one runner in `RUNNERS`; a new format (`mentions`) is a function
`run_<format>(args) -> int` registered there, with its options added in `register`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cxpulse_alerts.domain.detectors import (
    LIVE_ALERT_THRESHOLD,
    AlertGate,
    AlertGateConfig,
    VolumeSpike,
    VolumeSpikeConfig,
)
from cxpulse_cli.backtest_mentions import run_mentions

DESCRIPTION: Final = (
    "Replay a series through the alerts service's detectors, offline. --format nab reads "
    "timestamp,value (header row) and writes timestamp,value,anomaly_score: one row per input row, "
    "fields echoed verbatim, each score computed from that row and the rows before it only."
)
NAB_HEADER: Final = "timestamp,value,anomaly_score"
DEFAULT_INTERVAL_MINUTES: Final = 5.0


class BacktestInputError(ValueError):
    """The input file cannot be replayed; the message names the line."""


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One input row: the raw `timestamp` and `value` fields as written, and their parsed values."""

    raw_timestamp: str
    raw_value: str
    timestamp: datetime
    value: float


def split_raw_fields(line: str) -> list[str]:
    """Split one CSV line on commas outside quotes, keeping each field's text exactly as written."""
    fields: list[str] = []
    start = 0
    quoted = False
    for position, character in enumerate(line):
        if character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            fields.append(line[start:position])
            start = position + 1
    fields.append(line[start:])
    return fields


def unquote(field: str) -> str:
    text = field.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def read_nab_series(path: Path) -> list[SeriesRow]:
    """Rows of a `timestamp,value` file (columns found by name in the header row)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = (line.rstrip("\r\n") for line in handle)
        return list(_parse_rows(lines, path))


def _parse_rows(lines: Iterator[str], path: Path) -> Iterator[SeriesRow]:
    header = next(lines, None)
    if header is None:
        raise BacktestInputError(f"{path}: empty file, expected a `timestamp,value` header row")
    columns = [unquote(field).lower() for field in split_raw_fields(header)]
    if "timestamp" not in columns or "value" not in columns:
        raise BacktestInputError(f"{path}:1: header {header!r} has no `timestamp` and `value` columns")
    timestamp_column, value_column = columns.index("timestamp"), columns.index("value")
    for line_number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        fields = split_raw_fields(line)
        if len(fields) <= max(timestamp_column, value_column):
            raise BacktestInputError(f"{path}:{line_number}: expected {len(columns)} fields, got {len(fields)}")
        raw_timestamp, raw_value = fields[timestamp_column], fields[value_column]
        try:
            timestamp = datetime.fromisoformat(unquote(raw_timestamp))
            value = float(unquote(raw_value))
        except ValueError as error:
            raise BacktestInputError(f"{path}:{line_number}: {error}") from error
        if not math.isfinite(value):
            raise BacktestInputError(f"{path}:{line_number}: value {raw_value!r} is not a finite number")
        yield SeriesRow(raw_timestamp, raw_value, timestamp, value)


def volume_scores(
    rows: Sequence[tuple[datetime, float]],
    *,
    threshold: float = LIVE_ALERT_THRESHOLD,
    interval: timedelta = timedelta(minutes=DEFAULT_INTERVAL_MINUTES),
    config: VolumeSpikeConfig | None = None,
) -> list[float]:
    """The live `VolumeSpike` detector's score of every row, fed in order, nothing ahead."""
    detector = VolumeSpike(config or VolumeSpikeConfig(interval=interval), AlertGateConfig(threshold=threshold))
    return [detector.observe(timestamp, value).score for timestamp, value in rows]


def volume_evidence(rows: Sequence[tuple[datetime, float]], config: VolumeSpikeConfig) -> list[float]:
    """The detector's evidence per row, before the alert gate (it does not depend on the gate)."""
    detector = VolumeSpike(config, AlertGateConfig(threshold=math.inf))
    return [detector.observe(timestamp, value).evidence for timestamp, value in rows]


def gate_scores(timestamps: Sequence[datetime], evidence: Sequence[float], gate: AlertGateConfig) -> list[float]:
    """What `volume_scores` gives at this gate, from evidence computed once: threshold sweeps stay cheap."""
    alert_gate = AlertGate(gate)
    return [alert_gate.admit(timestamp, value)[0] for timestamp, value in zip(timestamps, evidence, strict=True)]


def write_nab_result(path: Path, rows: Sequence[SeriesRow], scores: Sequence[float]) -> None:
    # `repr` keeps every digit: a score held just below the threshold must not round up to it.
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(NAB_HEADER + "\n")
        for row, score in zip(rows, scores, strict=True):
            handle.write(f"{row.raw_timestamp},{row.raw_value},{score!r}\n")


def run_nab(args: argparse.Namespace) -> int:
    if args.output is None:
        print("cxpulse backtest --format nab needs --output RESULT.csv", file=sys.stderr)
        return 2
    try:
        rows = read_nab_series(args.input)
    except (OSError, BacktestInputError) as error:
        print(f"cxpulse backtest: {error}", file=sys.stderr)
        return 1
    try:
        scores = volume_scores(
            [(row.timestamp, row.value) for row in rows],
            threshold=args.threshold,
            interval=timedelta(minutes=args.interval_minutes),
        )
    except (ValueError, TypeError) as error:
        # Rows out of time order, or time-zone-aware and naive timestamps mixed.
        print(f"cxpulse backtest: {args.input}: {error}", file=sys.stderr)
        return 1
    write_nab_result(args.output, rows, scores)
    pages = sum(1 for score in scores if score >= args.threshold)
    print(f"{len(rows)} rows scored, {pages} pages at threshold {args.threshold}: {args.output}")
    return 0


RUNNERS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {"nab": run_nab, "mentions": run_mentions}


def _positive_minutes(text: str) -> float:
    minutes = float(text)
    if not minutes > 0:
        raise argparse.ArgumentTypeError(f"interval must be a positive number of minutes, got {text}")
    return minutes


def run(args: argparse.Namespace) -> int:
    return RUNNERS[args.format](args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="replay a series through the alerts detectors offline",
        description=DESCRIPTION,
    )
    parser.add_argument("--format", choices=sorted(RUNNERS), default="nab", help="input format (default: nab)")
    parser.add_argument("--input", type=Path, required=True, help="series to replay")
    parser.add_argument("--output", type=Path, help="where to write the scored rows")
    parser.add_argument(
        "--threshold",
        type=float,
        default=LIVE_ALERT_THRESHOLD,
        help=f"page threshold; a page starts the cooldown (default: {LIVE_ALERT_THRESHOLD})",
    )
    parser.add_argument(
        "--interval-minutes",
        type=_positive_minutes,
        default=DEFAULT_INTERVAL_MINUTES,
        help=f"length of one row's interval (default: {DEFAULT_INTERVAL_MINUTES:g})",
    )
    parser.add_argument(
        "--columns",
        help="mentions: our field=their column, comma-separated, e.g. "
        "brand=airline,occurred_at=tweet_created,author=name,shares=retweet_count,id=tweet_id",
    )
    parser.add_argument("--incidents", type=Path, help="mentions: write the incidents as NDJSON here")
    parser.set_defaults(func=run)
