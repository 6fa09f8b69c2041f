"""cxpulse: local stack, demo, benchmarks, quality reports, contracts and offline tools."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

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
    "cxpulse_cli.rescore",
    "cxpulse_cli.erase",
)


def import_if_present(module_name: str) -> ModuleType | None:
    """The module, or None when this checkout does not have it (a missing dependency still raises)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxpulse", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        module = import_if_present(module_name)
        if module is not None:
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
