"""`cxpulse ownership test|check`: who would get an incident, and is the ownership file valid."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cxpulse_alerts.domain.ownership import (
    LabelValue,
    Ownership,
    OwnershipFileInvalid,
    Route,
    format_duration,
    load_ownership,
)

DEFAULT_FILE = Path("config/ownership.yaml")
LABEL_FLAGS = ("brand", "stage", "topic", "platform", "channel", "severity")


def ownership_file(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return Path(args.file)
    return Path(os.environ.get("OWNERSHIP_FILE") or DEFAULT_FILE)


def _load(args: argparse.Namespace) -> Ownership | None:
    try:
        return load_ownership(ownership_file(args))
    except OwnershipFileInvalid as error:
        print(f"invalid ownership file: {error}", file=sys.stderr)
        return None


def show_routing(args: argparse.Namespace) -> int:
    ownership = _load(args)
    if ownership is None:
        return 1
    labels: dict[str, LabelValue] = {
        name: getattr(args, name) for name in LABEL_FLAGS if getattr(args, name) is not None
    }
    result = ownership.route(labels)
    print(f"ownership file  {ownership.path} (sha256 {ownership.digest[:12]})")
    print(f"incident        {_describe_labels(labels)}")
    print(f"teams           {', '.join(result.teams)}")
    print(f"receivers       {_describe_receivers(ownership, result.receivers)}")
    print(f"escalation      {_describe_receivers(ownership, result.escalation_receivers)}")
    deadlines = [
        f"{format_duration(deadline)} ({team})"
        for team in result.teams
        if (deadline := ownership.teams[team].acknowledge_within) is not None
    ]
    print(f"acknowledge     {'within ' + ', '.join(deadlines) if deadlines else 'no deadline'}")
    print("matched routes")
    for route in result.matched_routes:
        print(f"  {ownership.path}:{route.line}  {_describe_route(route)}")
        print(f"      {_describe_grouping(route)}")
    return 0


def check_file(args: argparse.Namespace) -> int:
    ownership = _load(args)
    if ownership is None:
        return 1
    routes = list(ownership.root.walk())
    counts = ", ".join(
        _count(len(things), noun)
        for things, noun in ((ownership.receivers, "receiver"), (ownership.teams, "team"), (routes, "route"))
    )
    print(f"{ownership.path}: valid, {counts} (sha256 {ownership.digest[:12]})")
    # Legal but usually a slip: a team no route names never owns anything, and a receiver no
    # team lists never hears anything.
    routed_teams = {route.team for route in routes}
    for team in ownership.teams.values():
        if team.name not in routed_teams:
            print(f"note: {ownership.path}:{team.line}: no route sends incidents to team {team.name!r}")
    listed = {name for team in ownership.teams.values() for name in team.receivers + team.escalation_receivers}
    for name in ownership.receivers:
        if name not in listed:
            print(f"note: receiver {name!r} is listed by no team")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _describe_labels(labels: Mapping[str, LabelValue]) -> str:
    if not labels:
        return "(no labels)"
    return " ".join(f"{name}={','.join(value) if isinstance(value, list) else value}" for name, value in labels.items())


def _describe_receivers(ownership: Ownership, names: list[str]) -> str:
    return ", ".join(f"{name} ({ownership.receivers[name].type})" for name in names) or "none"


def _describe_route(route: Route) -> str:
    conditions = ", ".join(str(matcher) for matcher in route.matchers) or "every incident"
    return f"{route.path} -> {route.team}: {conditions}{', continue' if route.continue_matching else ''}"


def _describe_grouping(route: Route) -> str:
    return (
        f"group_by [{', '.join(route.group_by)}]  group_wait {format_duration(route.group_wait)}  "
        f"group_interval {format_duration(route.group_interval)}  "
        f"repeat_interval {format_duration(route.repeat_interval)}"
    )


def _add_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        help=f"ownership file (default: $OWNERSHIP_FILE, else {DEFAULT_FILE})",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("ownership", help="test or check the alert ownership routing tree")
    actions = parser.add_subparsers(dest="action", required=True)

    test_parser = actions.add_parser(
        "test",
        help="show which teams and receivers would get an incident with these labels",
        description="Any subset of labels; a label left out is absent, as in Alertmanager.",
    )
    _add_file_option(test_parser)
    test_parser.add_argument("--brand")
    test_parser.add_argument("--stage", action="append", help="repeat for an incident with several stages")
    test_parser.add_argument("--topic", action="append", help="repeat for an incident with several topics")
    test_parser.add_argument("--platform")
    test_parser.add_argument("--channel")
    test_parser.add_argument("--severity", type=int, choices=range(1, 6), metavar="1-5")
    test_parser.set_defaults(func=show_routing)

    check_parser = actions.add_parser("check", help="validate the ownership file")
    _add_file_option(check_parser)
    check_parser.set_defaults(func=check_file)
