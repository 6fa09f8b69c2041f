"""`cxpulse backtest --format mentions`: replay mentions by their own timestamps, offline.

The same code as the live services scores each mention (sentiment, stage, topics, reach),
feeds the same detectors and folds signals into incidents with the same engine; time is the
mentions' event time throughout, so a week of history replays in seconds, deterministically.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cxpulse_alerts.domain.detectors import LIVE_ALERT_THRESHOLD
from cxpulse_alerts.domain.incidents import EngineSettings, Incident, IncidentEngine, Routing
from cxpulse_alerts.domain.monitor import MonitorSettings, SignalMonitor
from cxpulse_collector.domain.ingest import to_event
from cxpulse_contracts import Author, Engagement, MentionSubmission, ScoredFeedback
from cxpulse_scorer.app import ScorerSettings, load_scoring

# Our field -> the input's column; overridable with --columns our=theirs,...
DEFAULT_COLUMNS = {
    "id": "id",
    "text": "text",
    "occurred_at": "occurred_at",
    "brand": "brand",
    "author": "author",
    "followers": "followers",
    "likes": "likes",
    "shares": "shares",
    "replies": "replies",
    "url": "url",
    "platform": "platform",
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z")
CHUNK = 50


def parse_columns(text: str | None) -> dict[str, str]:
    columns = dict(DEFAULT_COLUMNS)
    for pair in filter(None, (text or "").split(",")):
        ours, _, theirs = pair.partition("=")
        if ours.strip() not in DEFAULT_COLUMNS:
            raise argparse.ArgumentTypeError(f"unknown field {ours!r}; fields: {', '.join(DEFAULT_COLUMNS)}")
        columns[ours.strip()] = theirs.strip()
    return columns


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        for pattern in TIME_FORMATS:
            try:
                moment = datetime.strptime(text.strip(), pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unreadable timestamp {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return moment


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")[:64] or "unknown"


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix in {".ndjson", ".jsonl"}:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        return
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def to_submission(row: Mapping[str, Any], columns: Mapping[str, str], index: int) -> MentionSubmission:
    def field(name: str, default: Any = None) -> Any:
        value = row.get(columns[name])
        return default if value in (None, "") else value

    author = str(field("author", "anonymous"))
    mention_id = str(field("id", index))
    return MentionSubmission(
        mention_id=mention_id,
        brand=slug(str(field("brand", "unknown"))),
        platform=slug(str(field("platform", "x"))),
        author=Author(handle=author, followers=int(float(field("followers", 0)))),
        text=str(field("text", "")) or "-",
        url=str(field("url", f"https://x.com/{quote(author)}/status/{quote(mention_id)}")),
        engagement=Engagement(
            likes=int(float(field("likes", 0))),
            shares=int(float(field("shares", 0))),
            replies=int(float(field("replies", 0))),
        ),
        occurred_at=parse_time(str(field("occurred_at"))),
    )


def replay(
    submissions: list[MentionSubmission], *, threshold: float = LIVE_ALERT_THRESHOLD
) -> tuple[list[Incident], list[ScoredFeedback]]:
    """Every incident the stream opened (resolved ones included), and the scored mentions."""
    ordered = sorted(submissions, key=lambda submission: submission.occurred_at)
    events = [
        to_event(s, source="backtest", channel="backtest", pseudonymisation_key=b"backtest", received_at=s.occurred_at)
        for s in ordered
    ]
    scored = [
        item.scored for item in load_scoring(ScorerSettings()).scorer.score_batch(events, scored_at=datetime.now(UTC))
    ]
    monitor = SignalMonitor(MonitorSettings())
    engine = IncidentEngine(
        route=lambda labels: Routing(teams=("care",), receivers=(), group_wait=timedelta(0)),
        settings=EngineSettings(open_threshold=threshold),
    )
    active: dict[str, dict[str, Incident]] = {}
    finished: list[Incident] = []
    for start in range(0, len(scored), CHUNK):
        chunk = scored[start : start + CHUNK]
        now = chunk[-1].event.occurred_at
        for brand, found in monitor.observe(chunk).items():
            brand_active = active.setdefault(brand, {})
            changes = engine.fold(
                brand_active,
                found.signals,
                now=now,
                samples=found.samples,
                top_terms=monitor.top_terms(brand, now),
                reach=found.negative_reach,
            )
            for change in changes:
                brand_active[change.incident.fingerprint] = change.incident
        for brand_active in active.values():
            for fingerprint, incident in list(brand_active.items()):
                for change in engine.tick(incident, now=now, silences=()):
                    incident = change.incident
                brand_active[fingerprint] = incident
                if not incident.active:
                    finished.append(incident)
                    del brand_active[fingerprint]
    still_open = [incident for brand_active in active.values() for incident in brand_active.values()]
    return sorted(finished + still_open, key=lambda incident: incident.opened_at), scored


def incident_record(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "brand": incident.brand,
        "severity": incident.severity,
        "crisis_risk": incident.crisis_risk,
        "status": incident.status,
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "detectors": sorted({signal.detector for signal in incident.signals.values()}),
        "stages": list(incident.stages),
        "top_terms": list(incident.top_terms),
        "total_reach": incident.total_reach,
        "samples": [asdict(sample) for sample in incident.samples],
    }


def run_mentions(args: argparse.Namespace) -> int:
    columns = parse_columns(args.columns)
    try:
        submissions = [to_submission(row, columns, index) for index, row in enumerate(read_rows(args.input))]
    except (OSError, ValueError, KeyError) as error:
        print(f"backtest: cannot read {args.input}: {error}")
        return 1
    incidents, _ = replay(submissions, threshold=args.threshold)
    records = [incident_record(incident) for incident in incidents]
    if args.incidents:
        args.incidents.write_text("".join(json.dumps(record) + "\n" for record in records))
    for record in records:
        print(
            f"{record['opened_at']}  sev {record['severity']}  {record['brand']:16} {record['status']:9} "
            f"{', '.join(record['detectors'])}"
        )
    print(f"{len(submissions)} mentions replayed, {len(records)} incidents")
    return 0
