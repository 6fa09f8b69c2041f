"""Benchmark results: flat metric keys in `bench/results/latest.json`, rendered to `docs/benchmarks.md`.

Every metric is a flat key (`collector_single_rps`) so scripts can read one number without
knowing the layout. Beside them, `sections` keeps, per section, how its table is laid out,
when and on what machine it was measured, and which keys it wrote, so that running one section
replaces exactly that section's keys and keeps every other section's.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECTIONS_KEY = "sections"


@dataclass(frozen=True)
class Row:
    """One line of a section's table; every field but `label` and `unit` names a metric key."""

    metric: str
    label: str
    unit: str
    baseline: str | None = None
    ratio: str | None = None
    # The threshold the ratio (or, in a row without one, the value) must meet.
    goal: str | None = None
    higher_is_better: bool = True


@dataclass(frozen=True)
class SectionReport:
    name: str
    title: str
    metrics: dict[str, float]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Machine:
    cores: int
    python: str
    platform: str

    @classmethod
    def current(cls) -> Machine:
        return cls(
            cores=os.cpu_count() or 0,
            python=platform.python_version(),
            platform=f"{platform.system()} {platform.machine()}",
        )


def merge(
    existing: Mapping[str, Any], report: SectionReport, *, machine: Machine, measured_at: datetime
) -> dict[str, Any]:
    """The results with `report`'s section replaced: its old keys go, other sections' stay."""
    sections: dict[str, Any] = dict(existing.get(SECTIONS_KEY, {}))
    stale_keys = set(sections.get(report.name, {}).get("keys", []))
    merged = {key: value for key, value in existing.items() if key not in stale_keys and key != SECTIONS_KEY}
    merged.update(report.metrics)
    sections[report.name] = {
        "title": report.title,
        "measured_at": measured_at.astimezone(UTC).isoformat(timespec="seconds"),
        "machine": asdict(machine),
        "keys": sorted(report.metrics),
        "rows": [asdict(row) for row in report.rows],
        "notes": report.notes,
    }
    merged[SECTIONS_KEY] = sections
    return merged


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def save(results: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def record(
    report: SectionReport,
    *,
    results_path: Path,
    markdown_path: Path,
    machine: Machine | None = None,
    measured_at: datetime | None = None,
) -> dict[str, Any]:
    """Merges the section into the results file and regenerates the markdown from it."""
    results = merge(
        load(results_path),
        report,
        machine=machine or Machine.current(),
        measured_at=measured_at or datetime.now(UTC),
    )
    save(results, results_path)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(render_markdown(results, source=results_path.name))
    return results


def format_number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def goal_met(row: Row, results: Mapping[str, Any]) -> bool | None:
    """None when the row has no goal or a number it needs is missing."""
    if row.goal is None:
        return None
    compared = results.get(row.ratio if row.ratio else row.metric)
    goal = results.get(row.goal)
    if not isinstance(compared, int | float) or not isinstance(goal, int | float):
        return None
    return compared >= goal if row.higher_is_better else compared <= goal


def ratio_text(row: Row, results: Mapping[str, Any]) -> str:
    ratio = results.get(row.ratio) if row.ratio else None
    return f"{ratio:.2f}x" if isinstance(ratio, int | float) else ""


def goal_text(row: Row, results: Mapping[str, Any]) -> str:
    goal = results.get(row.goal) if row.goal else None
    if not isinstance(goal, int | float):
        return ""
    comparison = "≥" if row.higher_is_better else "≤"
    return f"{comparison} {goal:g}x" if row.ratio else f"{comparison} {format_number(goal)} {row.unit}"


def render_row(row: Row, results: Mapping[str, Any]) -> str:
    def quantity(key: str | None) -> str:
        value = results.get(key) if key else None
        return f"{format_number(value)} {row.unit}" if isinstance(value, int | float) else ""

    met = goal_met(row, results)
    cells = [
        f"{row.label} (`{row.metric}`)",
        quantity(row.metric),
        quantity(row.baseline),
        ratio_text(row, results),
        goal_text(row, results),
        "" if met is None else ("pass" if met else "**fail**"),
    ]
    return "| " + " | ".join(cells) + " |"


def render_section(name: str, section: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    machine = section.get("machine", {})
    lines = [
        f"## {section.get('title', name)}",
        "",
        f"Measured {section.get('measured_at', 'at an unknown time')} on {machine.get('cores', '?')} cores, "
        f"Python {machine.get('python', '?')}, {machine.get('platform', '?')}.",
        "",
        "| metric | value | baseline | ratio | goal | result |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [render_row(Row(**row), results) for row in section.get("rows", [])]
    notes = section.get("notes", [])
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return [*lines, ""]


def render_markdown(results: Mapping[str, Any], *, source: str = "latest.json") -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`cxpulse bench`) from `bench/results/{source}`; edit neither by hand.",
        "",
        "Every ratio is measured side by side in one run: the subject and its baseline run in turn on "
        "the same machine, against the same broker and Redis, minutes apart, so the machine's speed "
        "cancels out of the ratio. Absolute numbers compare only between runs on the same machine.",
        "",
    ]
    for name, section in results.get(SECTIONS_KEY, {}).items():
        lines += render_section(name, section, results)
    return "\n".join(lines)


def in_scratch_dir(section: str, measure: Callable[[Path], SectionReport]) -> SectionReport:
    """Measures in a new run directory, removed afterwards unless something failed (it keeps the logs)."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"cxpulse-bench-{section}-"))
    try:
        report = measure(run_dir)
    except BaseException as error:
        error.add_note(f"logs kept in {run_dir / 'logs'}")
        raise
    shutil.rmtree(run_dir, ignore_errors=True)
    return report
