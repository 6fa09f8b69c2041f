"""`cxpulse stack up|down|status`: the local stack in the background (`make up` / `make down`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cxpulse_cli.localstack import REPO_ROOT, Stack, StackError, start_stack


def run_dir() -> Path:
    return Path(os.environ.get("CXPULSE_RUN_DIR", REPO_ROOT / ".run"))


def up(_: argparse.Namespace) -> int:
    existing = Stack.load(run_dir())
    if existing and all(process.alive() for process in existing.processes.values()):
        print(f"already up; environment in {run_dir() / 'env'}")
        return 0
    if existing:
        existing.stop()
    try:
        stack = start_stack(run_dir(), with_prometheus=True)
    except StackError as error:
        print(f"cxpulse stack up failed: {error}")
        return 1
    for name, process in stack.processes.items():
        print(f"{name:10} {process.address:32} pid {process.pid}")
    print(f"environment: source {run_dir() / 'env'}")
    return 0


def down(_: argparse.Namespace) -> int:
    stack = Stack.load(run_dir())
    if stack is None:
        print("nothing to stop")
        return 0
    names = ", ".join(stack.processes)
    stack.stop()
    print(f"stopped {names}")
    return 0


def status(_: argparse.Namespace) -> int:
    stack = Stack.load(run_dir())
    if stack is None:
        print("not running")
        return 1
    for name, process in stack.processes.items():
        print(f"{name:10} {process.address:32} {'up' if process.alive() else 'DOWN'}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("stack", help="start or stop the local stack on loopback")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="start broker, Redis and the services; write .run/env").set_defaults(func=up)
    actions.add_parser("down", help="stop exactly what `up` started").set_defaults(func=down)
    actions.add_parser("status", help="show what runs").set_defaults(func=status)
