"""`cxpulse demo` (`make demo`): the whole stack on loopback, a simulated stream, a summary.

Starts its own broker, Redis and services in `.run/demo`, posts a seeded stream of surveys and
mentions (with a brewing crisis, re-sent duplicates and a few invalid records) through the
collector exactly as channels do, prints what happened, writes `.run/demo-summary.json` and
stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cxpulse_cli.localstack import REPO_ROOT, running_stack
from cxpulse_cli.simulate import BRAND_STAGES, SimulatedItem, simulate
from cxpulse_cli.stack import run_dir
from cxpulse_cli.webhook_client import CollectorClient

BATCH_SIZE = 50


@dataclass
class Tally:
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    failed: int = 0

    def add_answer(self, status: int, answer: dict[str, Any], events: int) -> None:
        self.sent += events
        if status == 202:
            self.accepted += int(answer["accepted"])
            self.duplicate += int(answer["duplicates"])
        elif 400 <= status < 500:
            self.rejected += events
        else:
            self.failed += events


def requests_for(
    items: Sequence[SimulatedItem],
) -> Iterable[tuple[str, list[dict[str, Any]] | dict[str, Any], int]]:
    """Valid items travel in batches per kind; an invalid one alone, so it cannot sink a batch."""
    pending: dict[str, list[dict[str, Any]]] = {"survey": [], "mention": []}
    for item in items:
        if item.invalid:
            yield item.kind, item.body, 1
            continue
        pending[item.kind].append(item.body)
        if len(pending[item.kind]) == BATCH_SIZE:
            yield item.kind, pending[item.kind], BATCH_SIZE
            pending[item.kind] = []
    for kind, bodies in pending.items():
        if bodies:
            yield kind, bodies, len(bodies)


def show_progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.monotonic() - started, 1e-9)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} events  {rate:,.0f}/s")
    sys.stderr.flush()


def post_stream(client: CollectorClient, items: Sequence[SimulatedItem]) -> Tally:
    tally = Tally()
    started = time.monotonic()
    for kind, payload, events in requests_for(items):
        response = client.post(kind, payload)
        tally.add_answer(response.status_code, response.json(), events)
        show_progress(tally.sent, len(items), started)
    sys.stderr.write("\n")
    return tally


def scored_so_far(scorer_url: str) -> int:
    metrics = httpx.get(f"{scorer_url}/metrics", timeout=5).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("cx_scorer_events_total{") and 'outcome="scored"' in line
    )


def wait_until_scored(scorer_url: str, expected: int, *, timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    scored = scored_so_far(scorer_url)
    while scored < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        scored = scored_so_far(scorer_url)
    return scored


def fetch_journey_and_pnl(
    env: dict[str, str], brands: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    headers = {"authorization": f"Bearer {env['CXPULSE_API_TOKEN']}"}
    journey, pnl = [], []
    with httpx.Client(base_url=env["SCORER_URL"], headers=headers, timeout=30) as scorer:
        for brand in brands:
            table = scorer.get("/v1/journey", params={"brand": brand, "window": "24h"}).json()
            for row in table["stages"]:
                journey.append(
                    {
                        "brand": brand,
                        "stage": row["stage"],
                        "responses": row["responses"],
                        "nps": row["nps"],
                        "csat": row["csat"],
                        "ces_mean": row["ces_mean"],
                        "sentiment_net": row["sentiment"]["net"],
                    }
                )
            statement = scorer.get("/v1/pnl", params={"brand": brand, "period": "week"}).json()
            pnl.append(
                {
                    "brand": brand,
                    "period": "week",
                    "currency": statement["currency"],
                    "model_version": statement["model_version"],
                    "net": statement["net"],
                    "lines": [
                        {"name": line["name"], "value": line["value"], "basis": line["basis"]}
                        for line in statement["lines"]
                    ],
                }
            )
    return journey, pnl


def print_journey(journey: Sequence[dict[str, Any]]) -> None:
    print("\njourney-stage satisfaction, last 24 h")
    print(f"  {'brand':18} {'stage':10} {'resp':>5} {'NPS':>7} {'CSAT%':>6} {'CES':>5} {'net sent.':>9}")

    def shown(value: object) -> str:
        return "-" if value is None else f"{value:g}"

    for row in journey:
        print(
            f"  {row['brand']:18} {row['stage']:10} {row['responses']:>5} {shown(row['nps']):>7} "
            f"{shown(row['csat']):>6} {shown(row['ces_mean']):>5} {shown(row['sentiment_net']):>9}"
        )


def print_pnl(pnl: Sequence[dict[str, Any]]) -> None:
    for statement in pnl:
        title = f"{statement['brand']} this week ({statement['currency']}, model {statement['model_version']})"
        print(f"\nsocial P&L {title}")
        for line in statement["lines"]:
            print(f"  {line['name']:28} {line['value']:>14,.2f}  {line['basis']}")


def delivered_receivers(sink_dir: Path) -> dict[str, set[str]]:
    """Incident id -> receivers whose local sink holds a notification of it."""
    delivered: dict[str, set[str]] = {}
    for sink in sink_dir.glob("notifications*.ndjson"):
        for line in sink.read_text().splitlines():
            notification = json.loads(line)["notification"]
            delivered.setdefault(notification["incident_id"], set()).add(notification["receiver"])
    return delivered


def wait_for_incidents(env: dict[str, str], sink_dir: Path, *, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Incidents once every one of them reached its receivers (group_wait included)."""
    headers = {"authorization": f"Bearer {env['CXPULSE_API_TOKEN']}"}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=env["ALERTS_URL"], headers=headers, timeout=30) as alerts:
        while True:
            incidents = alerts.get("/v1/incidents").json()["incidents"]
            delivered = delivered_receivers(sink_dir)
            pending = [
                item for item in incidents if set(item["routing"]["receivers"]) - delivered.get(item["id"], set())
            ]
            if (incidents and not pending) or time.monotonic() > deadline:
                return [
                    {
                        "id": item["id"],
                        "brand": item["brand"],
                        "severity": item["severity"],
                        "crisis_risk": item["crisis_risk"],
                        "status": item["status"],
                        "teams": item["routing"]["teams"],
                        "notified": sorted(delivered.get(item["id"], set())),
                        "detectors": sorted({signal["detector"] for signal in item["signals"]}),
                        "stages": item["stages"],
                        "top_terms": item["top_terms"][:5],
                        "total_reach": item["total_reach"],
                        "sample_mentions": [sample["url"] for sample in item["samples"][:3]],
                    }
                    for item in incidents
                ]
            time.sleep(0.5)


def print_incidents(incidents: Sequence[dict[str, Any]]) -> None:
    print(f"\nincidents ({len(incidents)})")
    for incident in sorted(incidents, key=lambda item: -item["severity"]):
        print(
            f"  sev {incident['severity']}  {incident['brand']:18} risk {incident['crisis_risk']:.2f}  "
            f"teams {', '.join(incident['teams'])}  notified {', '.join(incident['notified']) or '-'}"
        )
        print(
            f"         detectors {', '.join(incident['detectors'])}; stages {', '.join(incident['stages']) or '-'}; "
            f"reach {incident['total_reach']:,}"
        )
        if incident["top_terms"]:
            print(f"         top terms: {', '.join(incident['top_terms'])}")


def run(args: argparse.Namespace) -> int:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    items = list(simulate(seed=args.seed, events=args.events, start=start, span=timedelta(hours=6)))
    print(f"cxpulse demo: starting broker, Redis and the three services on loopback ({args.events} events)")
    demo_dir = run_dir() / "demo"
    # Each demo starts from empty state, so its figures are its own stream's alone.
    shutil.rmtree(demo_dir, ignore_errors=True)
    os.environ.setdefault("OWNERSHIP_FILE", str(REPO_ROOT / "config" / "ownership.demo.yaml"))
    # Six simulated hours are too short for the two days of history a volume spike wants; three
    # hours of history still precede the crisis, which starts past the middle of the stream.
    os.environ.setdefault("ALERTS_VOLUME_WARMUP", "PT3H")
    with running_stack(demo_dir) as stack:
        env = stack.env
        print(f"  collector {env['COLLECTOR_URL']}  scorer {env['SCORER_URL']}  alerts {env['ALERTS_URL']}")
        with CollectorClient(env["COLLECTOR_URL"], channel="demo", secret=env["DEMO_WEBHOOK_SECRET"]) as client:
            tally = post_stream(client, items)
        print("waiting for the scorer to catch up ...")
        scored = wait_until_scored(env["SCORER_URL"], tally.accepted)
        journey, pnl = fetch_journey_and_pnl(env, sorted(BRAND_STAGES))
        print("waiting for the incidents to reach their teams ...")
        incidents = wait_for_incidents(env, demo_dir)
    print_journey(journey)
    print_pnl(pnl)
    print_incidents(incidents)
    summary: dict[str, Any] = {
        "events_sent": tally.sent,
        "events_accepted": tally.accepted,
        "events_duplicate": tally.duplicate,
        "events_rejected": tally.rejected,
        "events_scored": scored,
        "journey": journey,
        "pnl": pnl,
        "incidents": incidents,
    }
    if tally.failed:
        summary["events_failed"] = tally.failed
    summary_path = run_dir() / "demo-summary.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"sent {tally.sent}  accepted {tally.accepted}  duplicates {tally.duplicate}  "
        f"rejected {tally.rejected}  failed {tally.failed}"
    )
    print(f"summary written to {summary_path}; everything the demo started is stopped")
    return 1 if tally.failed or scored < tally.accepted else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the whole stack on a simulated stream and summarise")
    parser.add_argument("--events", type=int, default=3000, help="events to simulate (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated stream")
    parser.set_defaults(func=run)
