from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cxpulse_cli.bench.results import (
    SECTIONS_KEY,
    Machine,
    Row,
    SectionReport,
    goal_met,
    merge,
    record,
    render_markdown,
)

MACHINE = Machine(cores=2, python="3.11.7", platform="Linux x86_64")
MEASURED_AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
THROUGHPUT_ROW = Row(
    "demo_rps",
    "Requests",
    "req/s",
    baseline="demo_baseline_rps",
    ratio="demo_ratio",
    goal="demo_ratio_goal",
)


def demo_report(rps: float, *, baseline_rps: float = 1000.0, extra: dict[str, float] | None = None) -> SectionReport:
    metrics = {
        "demo_rps": rps,
        "demo_baseline_rps": baseline_rps,
        "demo_ratio": rps / baseline_rps,
        "demo_ratio_goal": 0.5,
        **(extra or {}),
    }
    return SectionReport(
        name="demo",
        title="Demo",
        metrics=metrics,
        rows=[
            THROUGHPUT_ROW,
            Row("demo_p99_ms", "Latency p99", "ms", goal="demo_p99_goal_ms", higher_is_better=False),
        ],
        notes=["measured side by side"],
    )


def test_merge_keeps_other_sections_keys_and_replaces_its_own() -> None:
    other = SectionReport(
        name="other", title="Other", metrics={"other_rps": 5.0}, rows=[Row("other_rps", "x", "req/s")]
    )
    first = merge({}, other, machine=MACHINE, measured_at=MEASURED_AT)
    first = merge(
        first,
        demo_report(400.0, extra={"demo_retired_metric": 1.0}),
        machine=MACHINE,
        measured_at=MEASURED_AT,
    )

    second = merge(first, demo_report(600.0), machine=MACHINE, measured_at=MEASURED_AT)

    assert second["other_rps"] == 5.0
    assert second["demo_rps"] == 600.0
    assert "demo_retired_metric" not in second
    assert list(second[SECTIONS_KEY]) == ["other", "demo"]
    assert second[SECTIONS_KEY]["demo"]["machine"] == {
        "cores": 2,
        "python": "3.11.7",
        "platform": "Linux x86_64",
    }
    assert second[SECTIONS_KEY]["demo"]["measured_at"] == "2024-05-01T08:00:00+00:00"


def test_goal_met_compares_the_ratio_when_the_row_has_one_and_the_value_otherwise() -> None:
    latency_row = Row("demo_p99_ms", "Latency p99", "ms", goal="demo_p99_goal_ms", higher_is_better=False)

    assert goal_met(THROUGHPUT_ROW, {"demo_ratio": 0.5, "demo_ratio_goal": 0.5}) is True
    assert goal_met(THROUGHPUT_ROW, {"demo_ratio": 0.49, "demo_ratio_goal": 0.5}) is False
    assert goal_met(latency_row, {"demo_p99_ms": 80.0, "demo_p99_goal_ms": 100.0}) is True
    assert goal_met(latency_row, {"demo_p99_ms": 120.0, "demo_p99_goal_ms": 100.0}) is False
    assert goal_met(THROUGHPUT_ROW, {"demo_ratio": 0.7}) is None
    assert goal_met(Row("demo_rps", "Requests", "req/s"), {"demo_rps": 1.0}) is None


def test_markdown_has_a_table_per_section_with_baseline_ratio_goal_and_verdict() -> None:
    results = merge({}, demo_report(400.0), machine=MACHINE, measured_at=MEASURED_AT)

    markdown = render_markdown(results)

    assert "## Demo" in markdown
    assert "2 cores, Python 3.11.7" in markdown
    assert "2024-05-01T08:00:00+00:00" in markdown
    assert "measured side by side in one run" in markdown
    assert "| metric | value | baseline | ratio | goal | result |" in markdown
    assert "| Requests (`demo_rps`) | 400 req/s | 1,000 req/s | 0.40x | ≥ 0.5x | **fail** |" in markdown
    # A metric the section did not measure this time leaves its cells empty instead of failing.
    assert "| Latency p99 (`demo_p99_ms`) |  |  |  |  |  |" in markdown
    assert "- measured side by side" in markdown


def test_record_creates_directories_and_writes_both_files(tmp_path: Path) -> None:
    results_path = tmp_path / "bench" / "results" / "latest.json"
    markdown_path = tmp_path / "docs" / "benchmarks.md"
    results_path.parent.mkdir(parents=True)
    results_path.write_text(json.dumps({"scorer_events_per_s": 123.0}))

    record(
        demo_report(700.0),
        results_path=results_path,
        markdown_path=markdown_path,
        machine=MACHINE,
        measured_at=MEASURED_AT,
    )

    saved = json.loads(results_path.read_text())
    assert saved["scorer_events_per_s"] == 123.0
    assert saved["demo_ratio"] == 0.7
    assert "| pass |" in markdown_path.read_text()
