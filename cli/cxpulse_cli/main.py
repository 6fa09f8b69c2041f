"""cxpulse: local stack, demo, benchmarks, quality reports, contracts and offline tools."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `register(subparsers)` and sets `func` on the parsers it adds; modules a
# checkout does not have yet are skipped so the command works while features land one by one.
COMMAND_MODULES = (
    "cxpulse_cli.stack",
    "cxpulse_cli.demo",
    "cxpulse_cli.bench",
    "cxpulse_cli.quality",
    "cxpulse_cli.contracts",
    "cxpulse_cli.replay",
    "cxpulse_cli.sentiment",
    "cxpulse_cli.backtest",
    "cxpulse_cli.ownership",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxpulse", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
