"""Quality: the airline complaint tweets replayed by their own timestamps, incidents per day.

Figures only: per airline and day the incidents opened (with severities) next to the counts of
complaints by crowd-rated reason. No tweet text or terms reach the report.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from cxpulse_cli.backtest_mentions import parse_columns, replay, to_submission

AIRLINE_COLUMNS = "brand=airline,occurred_at=tweet_created,author=name,shares=retweet_count,id=tweet_id"


def replay_quality_section(data_dir: Path) -> str:
    path = data_dir / "airline_tweets" / "tweets_dev.csv"
    if not path.exists():
        return "## Replay of airline complaints\n\nSkipped: `airline_tweets/tweets_dev.csv` is absent.\n"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = parse_columns(AIRLINE_COLUMNS)
    submissions = [to_submission(row, columns, index) for index, row in enumerate(rows)]
    incidents, _ = replay(submissions)
    complaints: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row, submission in zip(rows, submissions, strict=True):
        if row["airline_sentiment"] == "negative":
            day = submission.occurred_at.date().isoformat()
            complaints[(submission.brand, day)][row["negativereason"] or "(none)"] += 1
    opened: dict[tuple[str, str], list[int]] = defaultdict(list)
    for incident in incidents:
        opened[(incident.brand, incident.opened_at.date().isoformat())].append(incident.severity)
    reasons = sorted({reason for counter in complaints.values() for reason in counter})
    lines = [
        "## Replay of airline complaints",
        "",
        f"`cxpulse backtest --format mentions` over `airline_tweets/tweets_dev.csv` ({len(rows):,} tweets) by their "
        f"own timestamps, live detector settings and threshold (no stack). {len(incidents)} incident(s) in all. "
        "Per airline and day (the tweet's own UTC offset): incidents opened with their severities, next to the "
        "daily counts of negative tweets by crowd-rated reason.",
        "",
        "| airline | day | incidents (severity) | negative | " + " | ".join(reasons) + " |",
        "|---|---|---|---|" + "---|" * len(reasons),
    ]
    for brand, day in sorted(set(complaints) | set(opened)):
        counter = complaints.get((brand, day), Counter())
        severities = opened.get((brand, day), [])
        shown = f"{len(severities)} ({', '.join(str(level) for level in severities)})" if severities else "0"
        lines.append(
            f"| {brand} | {day} | {shown} | {sum(counter.values())} | "
            + " | ".join(str(counter.get(reason, 0)) for reason in reasons)
            + " |"
        )
    return "\n".join(lines) + "\n"
