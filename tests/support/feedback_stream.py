"""Events straight onto `cx.feedback.v1` (as the collector would publish them) and their reference figures."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from cxpulse_collector.domain.ingest import FeedbackEvent, to_event
from cxpulse_collector.service import to_record
from cxpulse_contracts import MentionSubmission, SurveySubmission
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_scorer.domain.satisfaction import ALL_STAGES, SatisfactionCounts
from cxpulse_shared.kafka import make_producer
from cxpulse_shared.settings import KafkaSettings

COMMENTS = (
    "Waited 40 minutes on hold",
    "Great help from the agent, thanks",
    "The app keeps crashing",
    "Bill was wrong again",
    None,
    "Fast and easy",
    "Still no refund after two weeks",
)


def make_events(count: int, *, brands: list[str], seed: int = 1) -> list[FeedbackEvent]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=50)
    events: list[FeedbackEvent] = []
    for index in range(count):
        brand = rng.choice(brands)
        occurred_at = start + timedelta(seconds=rng.uniform(0, 2400))
        if rng.random() < 0.6:
            metric = rng.choice(["nps", "csat", "ces"])
            score = {"nps": rng.randint(0, 10), "csat": rng.randint(1, 5), "ces": rng.randint(1, 7)}[metric]
            submission: SurveySubmission | MentionSubmission = SurveySubmission(
                response_id=f"r-{seed}-{index}",
                brand=brand,
                metric=metric,
                score=score,
                comment=rng.choice(COMMENTS),
                journey_stage=rng.choice(["purchase", "use", "support"]),
                occurred_at=occurred_at,
            )
        else:
            submission = MentionSubmission(
                mention_id=f"m-{seed}-{index}",
                brand=brand,
                platform="x",
                author={"handle": f"user{rng.randint(1, 500)}", "followers": rng.randint(0, 50_000)},
                text=rng.choice([c for c in COMMENTS if c]),
                url=f"https://x.com/u/status/{index}",
                engagement={"likes": rng.randint(0, 50), "shares": rng.randint(0, 5), "replies": 0},
                occurred_at=occurred_at,
            )
        events.append(
            to_event(
                submission,
                source="fault-test",
                channel="fault",
                pseudonymisation_key=b"k",
                received_at=datetime.now(UTC),
            )
        )
    return events


def publish(kafka: KafkaSettings, events: list[FeedbackEvent]) -> None:
    producer = make_producer(kafka)
    carrier = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}
    for event in events:
        record = to_record(event, trace_carrier=carrier)
        producer.send(record.topic, key=record.key, value=record.value, headers=record.headers)
    producer.flush()
    producer.close()


def reference_counts(events: list[FeedbackEvent]) -> dict[tuple[str, str], SatisfactionCounts]:
    """What the aggregates must hold: the same domain code, applied once per event, in memory."""
    scorer = load_scoring(ScorerSettings()).scorer
    totals: dict[tuple[str, str], SatisfactionCounts] = defaultdict(SatisfactionCounts)
    for item in scorer.score_batch(events, scored_at=datetime.now(UTC)):
        contribution = item.contribution
        for stage in (contribution.stage, ALL_STAGES):
            totals[(contribution.brand, stage)] = totals[(contribution.brand, stage)] + contribution.satisfaction
    return dict(totals)
