from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from cxpulse_alerts.domain.detectors import LIVE_ALERT_THRESHOLD, AlertGateConfig, VolumeSpikeConfig
from cxpulse_cli.backtest import (
    NAB_HEADER,
    RUNNERS,
    gate_scores,
    read_nab_series,
    split_raw_fields,
    volume_evidence,
    volume_scores,
)
from cxpulse_cli.main import main

START = datetime(2015, 2, 26, 21, 42, 53)
PER_DAY = 288
SPIKE_ROW = 3 * PER_DAY + 100


def series_rows(days: int = 4) -> list[tuple[str, str]]:
    """A seasonal count series with one burst, as raw `timestamp,value` fields."""
    rng = np.random.default_rng(3)
    rows = []
    for row in range(days * PER_DAY):
        hour = (row % PER_DAY) / 12
        rate = 30 * (1 + 0.6 * math.sin(2 * math.pi * hour / 24)) * (8 if SPIKE_ROW <= row < SPIKE_ROW + 6 else 1)
        rows.append(((START + timedelta(minutes=5 * row)).strftime("%Y-%m-%d %H:%M:%S"), str(rng.poisson(rate))))
    return rows


def write_series(path: Path, rows: list[tuple[str, str]], *, newline: str = "\n") -> Path:
    path.write_text(newline.join(["timestamp,value", *(f"{ts},{value}" for ts, value in rows)]) + newline)
    return path


def run_backtest(input_path: Path, output_path: Path, *extra: str) -> int:
    return main(["backtest", "--format", "nab", "--input", str(input_path), "--output", str(output_path), *extra])


def output_rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == NAB_HEADER
    return [line.split(",") for line in lines[1:]]


def test_timestamps_and_values_are_echoed_verbatim_one_row_per_input_row(tmp_path: Path) -> None:
    rows = series_rows()
    rows[10] = (f'"{rows[10][0]}"', rows[10][1])  # quoted
    rows[11] = (rows[11][0].replace(" ", "T"), " 7.0")  # ISO with a T, padded value
    rows[12] = (rows[12][0] + ".000000", "12")  # fractional seconds
    output = tmp_path / "out.csv"

    assert run_backtest(write_series(tmp_path / "in.csv", rows, newline="\r\n"), output) == 0

    scored = output_rows(output)
    assert len(scored) == len(rows)
    assert [(row[0], row[1]) for row in scored] == rows
    assert all(0.0 <= float(row[2]) <= 1.0 for row in scored)
    assert max(float(row[2]) for row in scored) >= 0.5


def test_scores_never_look_ahead(tmp_path: Path) -> None:
    rows = series_rows()
    full, truncated = tmp_path / "full.csv", tmp_path / "truncated.csv"
    cut = SPIKE_ROW + 3  # mid-burst: the burst's first rows must score the same without its end

    run_backtest(write_series(tmp_path / "a.csv", rows), full)
    run_backtest(write_series(tmp_path / "b.csv", rows[:cut]), truncated)

    full_scores = [row[2] for row in output_rows(full)]
    assert [row[2] for row in output_rows(truncated)] == full_scores[:cut]
    assert any(float(score) > 0 for score in full_scores[:cut])


def test_output_is_deterministic(tmp_path: Path) -> None:
    source = write_series(tmp_path / "in.csv", series_rows(3))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"

    run_backtest(source, first)
    run_backtest(source, second)

    assert first.read_bytes() == second.read_bytes()


def test_one_burst_pages_once_and_held_scores_stay_below_the_threshold(tmp_path: Path) -> None:
    source, output = write_series(tmp_path / "in.csv", series_rows()), tmp_path / "out.csv"
    run_backtest(source, output)

    evidence = volume_evidence([(row.timestamp, row.value) for row in read_nab_series(source)], VolumeSpikeConfig())
    written = [float(row[2]) for row in output_rows(output)]
    assert sum(value >= LIVE_ALERT_THRESHOLD for value in evidence) > 1
    assert [row for row, value in enumerate(written) if value >= LIVE_ALERT_THRESHOLD] == [SPIKE_ROW]


def test_gate_sweeps_match_the_detector(tmp_path: Path) -> None:
    rows = [(row.timestamp, row.value) for row in read_nab_series(write_series(tmp_path / "in.csv", series_rows()))]
    evidence = volume_evidence(rows, VolumeSpikeConfig())

    for threshold in (0.3, 0.51, 0.7):
        swept = gate_scores([at for at, _ in rows], evidence, AlertGateConfig(threshold=threshold))
        assert swept == volume_scores(rows, threshold=threshold)


def test_bad_input_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("timestamp,value\n2015-02-26 21:42:53,4\nnot a time,5\n")

    assert run_backtest(source, tmp_path / "out.csv") == 1
    assert "in.csv:3" in capsys.readouterr().err

    source.write_text("time,count\n")
    assert run_backtest(source, tmp_path / "out.csv") == 1

    source.write_text("timestamp,value\n2015-02-26 21:42:53,4\n2015-02-26 21:37:53,5\n")
    assert run_backtest(source, tmp_path / "out.csv") == 1
    assert "older" in capsys.readouterr().err


def test_formats_are_one_runner_each() -> None:
    assert RUNNERS["nab"].__name__ == "run_nab"
    with pytest.raises(SystemExit):
        main(["backtest", "--format", "no-such-format", "--input", "x.csv"])


def test_raw_fields_keep_quotes_and_spaces() -> None:
    assert split_raw_fields('"a,b", c,"d""e"') == ['"a,b"', " c", '"d""e"']
