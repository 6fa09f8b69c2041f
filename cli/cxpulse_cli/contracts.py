"""`cxpulse contracts export|check`: JSON Schema and AsyncAPI from the pydantic models."""

from __future__ import annotations

import argparse

from cxpulse_contracts.export import drifted, write_all


def export(_: argparse.Namespace) -> int:
    changed = write_all()
    print("\n".join(f"wrote {path}" for path in changed) or "contracts up to date")
    return 0


def check(_: argparse.Namespace) -> int:
    stale = drifted()
    for path in stale:
        print(f"out of date: {path} (run `make contracts`)")
    return 1 if stale else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("contracts", help="generate or check JSON Schema and AsyncAPI")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("export", help="write contracts/schemas and contracts/asyncapi.json").set_defaults(func=export)
    actions.add_parser("check", help="fail when the committed files drifted").set_defaults(func=check)
