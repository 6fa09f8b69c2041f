"""`cxpulse bench --section scorer`: one scorer process against the bare transactional loop.

One run starts its own broker, Redis and collector on loopback, pre-publishes the demo stream's
events onto `cx.feedback.v1` and measures on that broker, in turn:

- the baseline: kafka-python's transactional consume→produce loop over those events (a fresh
  group, 1,000-record polls, offsets sent to the transaction, commit), with no scoring and no
  Redis: the ceiling of the client and the broker;
- the scorer: one real scorer process (uvicorn, sentiment, stage, topics, Redis aggregates,
  transactions) with a fresh group over the same events;
- the baseline again; the mean of both baseline runs is compared;
- the scorer's lag as time (scored_at minus the collector's received_at) while the collector is
  fed a steady 1,000 events/s in signed batches;
- the default sentiment rules on pathological input, in this process.

Throughput is the steady-state rate between 10% and 90% of the events, so neither the group
join nor the last, partly filled polls count. Goal: scorer ≥ 0.5 x baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from urllib.parse import urlencode

import httpx
from kafka.structs import OffsetAndMetadata, TopicPartition

from cxpulse_cli.bench.collector import own_servers_only
from cxpulse_cli.bench.loadgen import IdleConnections, ProtocolError, Signer, SurveyFactory, percentile
from cxpulse_cli.bench.results import Row, SectionReport, in_scratch_dir
from cxpulse_cli.localstack import ManagedProcess, Stack, running_stack, service_environment, start_service
from cxpulse_cli.simulate import simulate
from cxpulse_cli.webhook_client import encode
from cxpulse_collector.domain.ingest import FeedbackEvent, to_event
from cxpulse_collector.service import to_record
from cxpulse_contracts import MentionSubmission, SurveySubmission, topics
from cxpulse_scorer.domain.sentiment import load_scorer
from cxpulse_shared.kafka import ensure_topics, make_consumer, make_producer
from cxpulse_shared.settings import KafkaSettings

TITLE = "Scorer"
CHANNEL = "demo"
THROUGHPUT_EVENTS = 20_000
POLL_RECORDS = 1000
# The share of events between which the rate is steady: the group join comes before the first,
# the last partly filled polls after the second.
STEADY_FROM, STEADY_TO = 0.1, 0.9
LAG_EVENTS_PER_S = 1000
LAG_BATCH_EVENTS = 50
DEFAULT_LAG_DURATION_S = 30.0
LAG_WARMUP_S = 3.0
PATHOLOGICAL_RUNS = 50
PATHOLOGICAL_TEXT = ("good but bad " * (100_000 // 13 + 1))[:100_000]
PATHOLOGICAL_EMOJI = "😀" * 4000
RATIO_GOAL = 0.5
PATHOLOGICAL_GOAL_MS = 10.0
BASELINE_TOPIC = "bench.scorer.baseline.v1"
# Checking the scorer's counter also costs the scorer a scrape, so not too often.
METRICS_POLL_S = 0.1
THROUGHPUT_TIMEOUT_S = 300.0
CATCH_UP_TIMEOUT_S = 120.0
# Well under uvicorn's 5 s keep-alive: a connection the server may be closing is not reused.
SCORED_COUNTER = re.compile(r'^cx_scorer_events_total\{outcome="scored"\}\s+([0-9.eE+]+)\s*$', re.MULTILINE)

ROWS = [
    Row(
        "scorer_events_per_s",
        "Events through one scorer",
        "events/s",
        baseline="scorer_baseline_events_per_s",
        ratio="scorer_ratio",
        goal="scorer_ratio_goal",
    ),
    Row("scorer_lag_p50_ms", f"Lag at {LAG_EVENTS_PER_S:,} events/s, p50", "ms"),
    Row("scorer_lag_p99_ms", f"Lag at {LAG_EVENTS_PER_S:,} events/s, p99", "ms"),
    Row(
        "sentiment_pathological_max_ms",
        "Sentiment of pathological text, max",
        "ms",
        goal="sentiment_pathological_goal_ms",
        higher_is_better=False,
    ),
]


class BenchFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Progression:
    """(monotonic seconds, events committed so far) samples of one consumer group's run."""

    samples: list[tuple[float, int]]
    total: int

    def steady_rate(self) -> float:
        return steady_rate(self.samples, self.total)


def steady_rate(
    samples: Sequence[tuple[float, int]], total: int, *, low: float = STEADY_FROM, high: float = STEADY_TO
) -> float:
    """Events per second between the first samples at or past `low` and `high` of `total`.

    Counts move in whole polls, so each end is the sample where the count first reached its
    share, and the rate uses that sample's own count rather than the nominal share.
    """
    start = next(((at, count) for at, count in samples if count >= low * total), None)
    end = next(((at, count) for at, count in samples if count >= high * total), None)
    if start is None or end is None or end[0] <= start[0]:
        return float("nan")
    return (end[1] - start[1]) / (end[0] - start[0])


def lag_ms(scored_value: bytes, id_prefix: str, *, received_from: datetime) -> float | None:
    """Scored minus received, for a scored survey whose response id starts with `id_prefix`."""
    scored = json.loads(scored_value)
    event = scored["event"]
    if not event.get("response_id", "").startswith(id_prefix):
        return None
    received_at = datetime.fromisoformat(event["received_at"])
    if received_at < received_from:
        return None
    return (datetime.fromisoformat(scored["scored_at"]) - received_at).total_seconds() * 1000


def run(*, duration_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> SectionReport:
    return in_scratch_dir(
        "scorer",
        lambda run_dir: measure(run_dir, lag_duration_s=duration_s or DEFAULT_LAG_DURATION_S, progress=progress),
    )


def measure(run_dir: Path, *, lag_duration_s: float, progress: Callable[[str], None]) -> SectionReport:
    progress("pathological sentiment input (in this process)")
    pathological_max_ms = pathological_sentiment_max_ms()
    progress("starting broker, Redis and collector")
    with own_servers_only(), running_stack(run_dir, services=("collector",)) as stack:
        kafka = KafkaSettings(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
        ensure_topics(kafka, [BASELINE_TOPIC])
        progress(f"publishing {THROUGHPUT_EVENTS:,} events onto {topics.FEEDBACK}")
        publish(kafka, demo_events(THROUGHPUT_EVENTS))
        progress("baseline: bare transactional consume→produce loop")
        baseline_runs = [baseline_loop(kafka, THROUGHPUT_EVENTS)]
        with running_scorer(stack, run_dir) as scorer:
            progress(f"scorer over the same {THROUGHPUT_EVENTS:,} events")
            scorer_run = watch_scorer(scorer, THROUGHPUT_EVENTS, timeout_s=THROUGHPUT_TIMEOUT_S)
            progress("baseline again")
            baseline_runs.append(baseline_loop(kafka, THROUGHPUT_EVENTS))
            progress(
                f"lag: collector fed {LAG_EVENTS_PER_S:,} events/s ({LAG_WARMUP_S:g} s warm-up + {lag_duration_s:g} s)"
            )
            lag = measure_lag(stack, scorer, kafka, duration_s=lag_duration_s, already_scored=THROUGHPUT_EVENTS)
    return report(
        scorer_run=scorer_run,
        baseline_runs=baseline_runs,
        lag=lag,
        pathological_max_ms=pathological_max_ms,
        lag_duration_s=lag_duration_s,
    )


def pathological_sentiment_max_ms() -> float:
    scorer = load_scorer(None)
    slowest = 0.0
    for _ in range(PATHOLOGICAL_RUNS):
        for text in (PATHOLOGICAL_TEXT, PATHOLOGICAL_EMOJI):
            started = time.perf_counter()
            scorer.score(text)
            slowest = max(slowest, time.perf_counter() - started)
    return slowest * 1000


def demo_events(count: int) -> list[FeedbackEvent]:
    """The demo stream's mix of surveys and mentions, as the collector would have published them."""
    received_at = datetime.now(UTC)
    stream = simulate(
        events=count, start=received_at - timedelta(hours=1), span=timedelta(hours=1), duplicate_rate=0, invalid_rate=0
    )
    events: list[FeedbackEvent] = []
    for item in stream:
        submission = (
            SurveySubmission.model_validate(item.body)
            if item.kind == "survey"
            else MentionSubmission.model_validate(item.body)
        )
        events.append(
            to_event(
                submission, source="bench", channel=CHANNEL, pseudonymisation_key=b"bench", received_at=received_at
            )
        )
    if len(events) != count:
        raise BenchFailed(f"the simulated stream gave {len(events)} events, not {count}")
    return events


def publish(kafka: KafkaSettings, events: Sequence[FeedbackEvent]) -> None:
    producer = make_producer(kafka)
    try:
        carrier = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}
        for event in events:
            record = to_record(event, trace_carrier=carrier)
            producer.send(record.topic, key=record.key, value=record.value, headers=record.headers)
        producer.flush()
    finally:
        producer.close()


def baseline_loop(kafka: KafkaSettings, total: int) -> Progression:
    """Forwards `total` records from the feedback topic, one transaction per poll, in a new group."""
    run_id = uuid.uuid4().hex[:8]
    consumer = make_consumer(
        kafka, group_id=f"bench-baseline-{run_id}", topics=[topics.FEEDBACK], max_poll_records=POLL_RECORDS
    )
    producer = make_producer(kafka, transactional_id=f"bench-baseline-{run_id}")
    try:
        producer.init_transactions()
        samples: list[tuple[float, int]] = []
        forwarded = 0
        deadline = time.monotonic() + THROUGHPUT_TIMEOUT_S
        while forwarded < total:
            if time.monotonic() > deadline:
                raise BenchFailed(f"baseline forwarded {forwarded} of {total} events in {THROUGHPUT_TIMEOUT_S:g} s")
            batch = consumer.poll(timeout_ms=500, max_records=POLL_RECORDS)
            if not batch:
                continue
            producer.begin_transaction()
            for records in batch.values():
                for record in records:
                    producer.send(BASELINE_TOPIC, key=record.key, value=record.value, headers=record.headers or [])
            next_offsets = {
                TopicPartition(partition.topic, partition.partition): OffsetAndMetadata(records[-1].offset + 1, "", -1)
                for partition, records in batch.items()
                if records
            }
            producer.send_offsets_to_transaction(next_offsets, consumer.group_metadata())
            producer.commit_transaction()
            forwarded += sum(len(records) for records in batch.values())
            samples.append((time.monotonic(), forwarded))
        return Progression(samples, total)
    finally:
        producer.close(timeout=5)
        consumer.close()


@contextlib.contextmanager
def running_scorer(stack: Stack, run_dir: Path) -> Iterator[ManagedProcess]:
    """A scorer of its own, with a group and transactional id no earlier run used."""
    run_id = uuid.uuid4().hex[:8]
    environment = {
        **service_environment(stack.env, run_dir),
        "SCORER_GROUP_ID": f"bench-scorer-{run_id}",
        "SCORER_INSTANCE_ID": f"bench-{run_id}",
        "SCORER_MAX_POLL_RECORDS": str(POLL_RECORDS),
    }
    scorer = start_service("scorer", environment, run_dir / "logs")
    try:
        yield scorer
    finally:
        scorer.stop()


def scored_count(client: httpx.Client, scorer: ManagedProcess) -> int | None:
    """The scorer's `scored` counter, or None while it does not answer yet."""
    try:
        response = client.get(f"{scorer.address}/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    found = SCORED_COUNTER.search(response.text)
    return int(float(found.group(1))) if found else 0


def watch_scorer(scorer: ManagedProcess, total: int, *, timeout_s: float, already_scored: int = 0) -> Progression:
    """Samples the scorer's counter until it has scored `total` more events than `already_scored`."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        while True:
            if not scorer.alive():
                raise BenchFailed(f"the scorer exited; see {scorer.log}")
            count = scored_count(client, scorer)
            if count is not None:
                samples.append((time.monotonic(), count - already_scored))
                if count - already_scored >= total:
                    return Progression(samples, total)
            if time.monotonic() > deadline:
                scored = samples[-1][1] if samples else 0
                raise BenchFailed(f"the scorer scored {scored} of {total} events in {timeout_s:g} s; see {scorer.log}")
            time.sleep(METRICS_POLL_S)


@dataclass(frozen=True)
class FeedResult:
    events: int
    failures: dict[str, int]
    late_batches: int
    id_prefix: str


@dataclass
class _FeedState:
    accepted_events: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    late_batches: int = 0


class PacedFeeder:
    """Posts a new signed batch to the collector every period, whatever the answers take (open loop).

    It runs an event loop on a thread of its own so that the caller can do other things while
    the load is on. A batch whose turn comes while `max_in_flight` batches still wait for their
    answers is skipped and counted as late: the collector could not keep up with the rate.
    """

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        events_per_batch: int,
        events_per_s: float,
        channel: str = CHANNEL,
        max_in_flight: int = 16,
    ) -> None:
        self._idle = IdleConnections.for_base_url(base_url)
        self._target = f"/v1/surveys?{urlencode({'channel': channel})}"
        self._signer = Signer(secret)
        self._run_tag = uuid.uuid4().hex[:12]
        self._factory = SurveyFactory(run_tag=self._run_tag)
        self._events_per_batch = events_per_batch
        self._period_s = events_per_batch / events_per_s
        self._max_in_flight = max_in_flight
        self._stopping = threading.Event()
        self._state = _FeedState()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._feed()), name="paced-feeder", daemon=True)

    @property
    def id_prefix(self) -> str:
        """What every response id this feeder sent starts with."""
        return f"bench-{self._run_tag}-"

    def start(self) -> PacedFeeder:
        self._thread.start()
        return self

    def stop(self) -> FeedResult:
        self._stopping.set()
        self._thread.join(timeout=60)
        return FeedResult(
            events=self._state.accepted_events,
            failures=dict(self._state.failures),
            late_batches=self._state.late_batches,
            id_prefix=self.id_prefix,
        )

    def __enter__(self) -> PacedFeeder:
        return self.start()

    def __exit__(self, *_: object) -> None:
        if not self._stopping.is_set():
            self.stop()

    async def _feed(self) -> None:
        idle = self._idle
        in_flight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        started = loop.time()
        tick = 0
        while not self._stopping.is_set():
            await asyncio.sleep(max(0.0, started + tick * self._period_s - loop.time()))
            tick += 1
            if len(in_flight) >= self._max_in_flight:
                self._state.late_batches += 1
                continue
            task = asyncio.create_task(self._post_batch(idle))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
        idle.close_all()

    async def _post_batch(self, idle: IdleConnections) -> None:
        connection = idle.take()
        body = encode(self._factory.surveys(self._events_per_batch))
        try:
            status = await connection.post(self._target, body, self._signer.headers(body))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as error:
            self._state.failures[type(error).__name__] += 1
            return
        idle.give_back(connection)
        if status == 202:
            self._state.accepted_events += self._events_per_batch
        else:
            self._state.failures[f"HTTP {status}"] += 1


@dataclass(frozen=True)
class LagResult:
    p50_ms: float
    p99_ms: float
    max_ms: float
    measured_events: int
    feed: FeedResult


def measure_lag(
    stack: Stack, scorer: ManagedProcess, kafka: KafkaSettings, *, duration_s: float, already_scored: int
) -> LagResult:
    feeder = PacedFeeder(
        base_url=stack.processes["collector"].address,
        secret=stack.env["DEMO_WEBHOOK_SECRET"],
        events_per_batch=LAG_BATCH_EVENTS,
        events_per_s=LAG_EVENTS_PER_S,
    )
    with feeder:
        time.sleep(LAG_WARMUP_S)
        measured_from = datetime.now(UTC)
        time.sleep(duration_s)
        feed = feeder.stop()
    if feed.failures or not feed.events:
        raise BenchFailed(f"feeding the collector: {feed.events} events accepted, failures: {feed.failures}")
    watch_scorer(scorer, feed.events, timeout_s=CATCH_UP_TIMEOUT_S, already_scored=already_scored)
    lags = sorted(scored_lags(kafka, feed.id_prefix, received_from=measured_from))
    if not lags:
        raise BenchFailed(f"no scored event of the feed (ids {feed.id_prefix}…) on {topics.SCORED}")
    return LagResult(
        p50_ms=percentile(lags, 0.50),
        p99_ms=percentile(lags, 0.99),
        max_ms=lags[-1],
        measured_events=len(lags),
        feed=feed,
    )


def scored_lags(kafka: KafkaSettings, id_prefix: str, *, received_from: datetime) -> list[float]:
    """Reads the scored topic up to its current end and gives the lag of each matching event."""
    consumer = make_consumer(kafka, group_id=f"bench-lag-reader-{uuid.uuid4().hex[:8]}", topics=[])
    try:
        partitions = [
            TopicPartition(topics.SCORED, partition) for partition in consumer.partitions_for_topic(topics.SCORED)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        remaining = {partition: end for partition, end in consumer.end_offsets(partitions).items() if end > 0}
        lags: list[float] = []
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while remaining:
            if time.monotonic() > deadline:
                raise BenchFailed(f"reading {topics.SCORED} did not reach its end in {CATCH_UP_TIMEOUT_S:g} s")
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for record in records:
                    lag = lag_ms(record.value, id_prefix, received_from=received_from)
                    if lag is not None:
                        lags.append(lag)
            # Every partition, not only those that brought records: a fetch that holds only a
            # transaction's commit marker moves the position past it and returns nothing.
            remaining = {partition: end for partition, end in remaining.items() if consumer.position(partition) < end}
        return lags
    finally:
        consumer.close()


def report(
    *,
    scorer_run: Progression,
    baseline_runs: list[Progression],
    lag: LagResult,
    pathological_max_ms: float,
    lag_duration_s: float,
) -> SectionReport:
    scorer_rate = scorer_run.steady_rate()
    baseline_rates = [run.steady_rate() for run in baseline_runs]
    baseline_rate = mean(baseline_rates)
    metrics = {
        "scorer_events_per_s": scorer_rate,
        "scorer_baseline_events_per_s": baseline_rate,
        "scorer_ratio": scorer_rate / baseline_rate,
        "scorer_ratio_goal": RATIO_GOAL,
        "scorer_lag_p50_ms": lag.p50_ms,
        "scorer_lag_p99_ms": lag.p99_ms,
        "scorer_lag_max_ms": lag.max_ms,
        "sentiment_pathological_max_ms": pathological_max_ms,
        "sentiment_pathological_goal_ms": PATHOLOGICAL_GOAL_MS,
    }
    notes = [
        f"Throughput: {THROUGHPUT_EVENTS:,} events of the demo stream's mix of surveys and mentions, "
        f"pre-published onto `{topics.FEEDBACK}`, then read by one scorer process (uvicorn, everything "
        f"on) in a new consumer group with {POLL_RECORDS:,}-record polls; the rate is the steady one "
        f"between {STEADY_FROM:.0%} and {STEADY_TO:.0%} of the events, read from its "
        '`cx_scorer_events_total{outcome="scored"}` counter.',
        "Baseline: kafka-python's transactional consume→produce loop over the same events in a new group "
        f"(`make_consumer`/`make_producer`, {POLL_RECORDS:,}-record polls, `send_offsets_to_transaction`, "
        "commit), forwarding each record unchanged: no decoding, no scoring, no Redis. It ran before and "
        "after the scorer (" + " and ".join(f"{rate:,.0f}" for rate in baseline_rates) + " events/s) and "
        "its mean is shown.",
        f"Lag: the collector was fed {LAG_EVENTS_PER_S:,} events/s ({LAG_BATCH_EVENTS}-event signed batches "
        f"every {LAG_BATCH_EVENTS / LAG_EVENTS_PER_S * 1000:g} ms, open loop) for {LAG_WARMUP_S:g} s of "
        f"warm-up and {lag_duration_s:g} s measured; lag is `scored_at` minus the collector's "
        f"`received_at` over the {lag.measured_events:,} events received in the measured window "
        f"(max {lag.max_ms:,.0f} ms). Batches skipped because the collector fell behind: "
        f"{lag.feed.late_batches}.",
        f'Pathological sentiment: the default rules scored a 100 KB repetition of "good but bad " and '
        f"4,000 emoji {PATHOLOGICAL_RUNS} times each; the slowest call is shown.",
    ]
    return SectionReport(name="scorer", title=TITLE, metrics=metrics, rows=ROWS, notes=notes)
