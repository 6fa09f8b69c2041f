"""`cxpulse bench` (`make bench`): measures each section against its baselines in one run.

A section is a module with `run(*, duration_s, progress) -> SectionReport`; adding one is that
module plus its line in `SECTIONS`. Each section's numbers are merged into
`bench/results/latest.json` as soon as it finishes, and `docs/benchmarks.md` is regenerated.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
from collections.abc import Mapping
from typing import Any

from cxpulse_cli.bench.results import SectionReport, format_number, goal_met, goal_text, ratio_text, record
from cxpulse_cli.localstack import REPO_ROOT, StackError

SECTIONS: dict[str, str] = {
    "collector": "cxpulse_cli.bench.collector",
    "scorer": "cxpulse_cli.bench.scorer",
    "alerts": "cxpulse_cli.bench.alerts",
}
# Run only when named (`--section soak`): each takes minutes, too long for every `make bench`.
ON_DEMAND_SECTIONS: dict[str, str] = {
    "soak": "cxpulse_cli.bench.soak",
    "knee": "cxpulse_cli.bench.knee",
}
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "latest.json"
MARKDOWN_PATH = REPO_ROOT / "docs" / "benchmarks.md"


def run_section(name: str, duration_s: float | None) -> SectionReport:
    module = importlib.import_module({**SECTIONS, **ON_DEMAND_SECTIONS}[name])
    report: SectionReport = module.run(duration_s=duration_s, progress=lambda step: print(f"  {step}", flush=True))
    return report


def print_report(report: SectionReport, results: Mapping[str, Any]) -> None:
    print(f"\n{report.title}")
    for row in report.rows:
        value = results.get(row.metric)
        shown = format_number(value) if isinstance(value, int | float) else "-"
        line = f"  {row.label:<36} {shown:>10} {row.unit:<9}"
        if row.ratio:
            line += f" {ratio_text(row, results):>6} of baseline"
        met = goal_met(row, results)
        if met is not None:
            line += f", goal {goal_text(row, results)}: {'pass' if met else 'FAIL'}"
        print(line)


def bench(args: argparse.Namespace) -> int:
    names = [args.section] if args.section else list(SECTIONS)
    for name in names:
        print(f"bench {name}", flush=True)
        try:
            report = run_section(name, args.duration)
        except (StackError, RuntimeError, OSError, subprocess.SubprocessError) as error:
            print(f"bench {name} failed: {error}")
            for note in getattr(error, "__notes__", []):
                print(f"  {note}")
            return 1
        results = record(report, results_path=RESULTS_PATH, markdown_path=MARKDOWN_PATH)
        print_report(report, results)
    print(f"\nresults in {RESULTS_PATH.relative_to(REPO_ROOT)}, table in {MARKDOWN_PATH.relative_to(REPO_ROOT)}")
    return 0


def positive_seconds(text: str) -> float:
    seconds = float(text)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return seconds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure the services against bare baselines; writes docs/benchmarks.md"
    )
    parser.add_argument(
        "--section",
        choices=sorted({**SECTIONS, **ON_DEMAND_SECTIONS}),
        help=f"run only this section (default: all but the on-demand {' and '.join(ON_DEMAND_SECTIONS)})",
    )
    parser.add_argument(
        "--duration",
        type=positive_seconds,
        metavar="SECONDS",
        help="measured seconds per phase, after its warm-up (default: each section's own)",
    )
    parser.set_defaults(func=bench)
