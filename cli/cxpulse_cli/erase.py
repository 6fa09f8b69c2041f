"""`cxpulse erase --customer ID`: a customer's erasure request, carried to the scorer and alerts.

The scorer removes the customer from its customer rankings, alerts removes an author's mentions
from incident evidence and audits the erasure under a reference, which is printed for the
requester's file. Events still held by the Kafka topics are not touched: docs/security.md says
how retention bounds them.

The URLs and the operator token come from flags or the environment, else from the local stack's
`.run` state; the token is never a flag, so it stays out of shell history and process lists.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from cxpulse_cli.localstack import Stack
from cxpulse_cli.stack import run_dir


@dataclass(frozen=True)
class Outcome:
    service: str
    ok: bool
    body: dict[str, Any]


def erase_at(client: httpx.Client, service: str, base_url: str, customer: str, token: str) -> Outcome:
    response = client.delete(
        f"{base_url.rstrip('/')}/v1/customers/{quote(customer.strip(), safe='')}",
        headers={"authorization": f"Bearer {token}"},
    )
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:200]}
    return Outcome(service, response.status_code == 200, body if isinstance(body, dict) else {})


def describe(outcome: Outcome) -> str:
    body = outcome.body
    if not outcome.ok:
        return f"{outcome.service}: FAILED {body.get('status', '')} {body.get('title', '')}: {body.get('detail', '')}"
    removed = ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in body.get("removed", {}).items())
    read_as = " / ".join(body.get("matched_as", [])) or "nothing it stores"
    line = f"{outcome.service}: read as {read_as}; removed {removed}"
    if body.get("brands"):
        line += f" in {', '.join(body['brands'])}"
    if body.get("incidents"):
        line += f" from {', '.join(body['incidents'])}"
    if body.get("reference"):
        line += f"; audit reference {body['reference']}"
    return line


def connection(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    stack = Stack.load(run_dir())
    stack_env = stack.env if stack else {}

    def pick(flag: str | None, name: str) -> str | None:
        return flag or environ.get(name) or stack_env.get(name)

    return pick(args.scorer_url, "SCORER_URL"), pick(args.alerts_url, "ALERTS_URL"), pick(None, "CXPULSE_API_TOKEN")


def run(args: argparse.Namespace) -> int:
    scorer_url, alerts_url, token = connection(args, os.environ)
    missing = [
        name
        for name, value in (("SCORER_URL", scorer_url), ("ALERTS_URL", alerts_url), ("CXPULSE_API_TOKEN", token))
        if not value
    ]
    if missing or scorer_url is None or alerts_url is None or token is None:
        print(f"cxpulse erase: set {', '.join(missing)} (or start the local stack with `make up`)")
        return 2
    outcomes = []
    with httpx.Client(timeout=args.timeout) as client:
        for service, url in (("scorer", scorer_url), ("alerts", alerts_url)):
            try:
                outcomes.append(erase_at(client, service, url, args.customer, token))
            except httpx.HTTPError as error:
                outcomes.append(Outcome(service, False, {"detail": f"{url} unreachable: {type(error).__name__}"}))
    for outcome in outcomes:
        print(describe(outcome))
    print("events already in the Kafka topics stay until their retention ends (docs/security.md)")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "erase",
        help="erase a customer from the scorer's state and from incident evidence",
        description="ID is the survey tool's customer id, a pseudonym (ph1_...) or an author as platform:handle. "
        "Needs the operator token in $CXPULSE_API_TOKEN (or the local stack's). Erasing twice is harmless.",
    )
    parser.add_argument("--customer", required=True, metavar="ID", help="customer id or platform:handle")
    parser.add_argument("--scorer-url", help="default: $SCORER_URL, else the local stack's")
    parser.add_argument("--alerts-url", help="default: $ALERTS_URL, else the local stack's")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.set_defaults(func=run)
