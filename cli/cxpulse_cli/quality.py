"""`cxpulse quality` (`make quality`): quality reports on `../shared/data` into `docs/quality.md`.

Only aggregate figures are written; the evaluation data itself never enters the repository.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cxpulse_cli.localstack import REPO_ROOT
from cxpulse_cli.main import import_if_present

# (module, function): each returns one Markdown section for the data folder it is given.
SECTIONS = (
    ("cxpulse_cli.quality_sentiment", "sentiment_quality_section"),
    ("cxpulse_cli.quality_journey", "journey_quality_section"),
    ("cxpulse_cli.quality_nab", "nab_quality_section"),
    ("cxpulse_cli.quality_replay", "replay_quality_section"),
)


def default_data_dir() -> Path:
    return Path(os.environ.get("CXPULSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def available_sections() -> list[tuple[str, Callable[[Path], str]]]:
    sections = []
    for module_name, function_name in SECTIONS:
        module = import_if_present(module_name)
        if module is None:
            continue
        sections.append((module_name.rsplit("_", 1)[-1], getattr(module, function_name)))
    return sections


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data)
    if not data_dir.is_dir():
        print(f"quality: {data_dir} is absent; skipping (the evaluation data lives beside the project)")
        return 0
    wanted = set(args.only or [])
    parts = [
        "# Quality\n",
        f"Measured by `make quality` on {datetime.now(UTC):%Y-%m-%d} ({platform.python_version()}, "
        f"{os.cpu_count()} cores) on the evaluation data in `../shared/data`. Figures only: no rows, "
        "text or terms of that data are stored in this repository.\n",
    ]
    for name, section in available_sections():
        if wanted and name not in wanted:
            continue
        print(f"quality: {name} ...", flush=True)
        parts.append(section(data_dir).rstrip() + "\n")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(parts))
    print(f"quality: wrote {output}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("quality", help="quality reports on ../shared/data into docs/quality.md")
    parser.add_argument("--data", default=str(default_data_dir()), help="evaluation data folder")
    parser.add_argument("--output", default=str(REPO_ROOT / "docs" / "quality.md"))
    parser.add_argument("--only", action="append", help="sections to run: sentiment, journey, nab, replay")
    parser.set_defaults(func=run)
