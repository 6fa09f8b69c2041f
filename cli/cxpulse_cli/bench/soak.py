"""`cxpulse bench --section soak`: the whole pipeline under a steady 500 events/s for ten minutes.

One run starts its own broker, Redis, collector, scorer and alerts on loopback and feeds the
collector new, signed events in the demo stream's mix of surveys and mentions: a batch of 10
every 20 ms, open loop (a batch whose turn comes while too many still wait for their answers is
skipped and counted as late). Every few seconds it samples each process's resident memory and the
scorer's and alerts' consumer-group lag. When the feed stops it waits for both groups to drain,
then checks every event id the collector accepted (the 202s' `event_ids`) against
`cx.feedback.scored.v1` (read_committed, followed throughout the run) and the Redis aggregates.
Goals: nothing lost, nothing counted twice, each service's RSS grows less than 10% after the warm-up.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from statistics import mean, median
from typing import Any
from urllib.parse import urlencode

import psutil
from kafka import KafkaAdminClient
from kafka.structs import TopicPartition
from pydantic import SecretStr

from cxpulse_alerts.worker import GROUP as ALERTS_GROUP
from cxpulse_cli.bench.collector import own_servers_only
from cxpulse_cli.bench.loadgen import IdleConnections, ProtocolError, Signer, percentile
from cxpulse_cli.bench.results import Row, SectionReport, in_scratch_dir
from cxpulse_cli.bench.scorer import BenchFailed
from cxpulse_cli.localstack import Stack, running_stack
from cxpulse_cli.simulate import simulate
from cxpulse_cli.webhook_client import encode
from cxpulse_contracts import topics
from cxpulse_scorer.worker import GROUP as SCORER_GROUP
from cxpulse_shared.kafka import make_consumer
from cxpulse_shared.redis import as_text, make_redis
from cxpulse_shared.settings import KafkaSettings, RedisSettings

CHANNEL = "demo"
DEFAULT_DURATION_S = 600.0
EVENTS_PER_S = 500
BATCH_EVENTS = 10
# A short trial run still keeps most of its time after the warm-up.
WARMUP_S = 60.0
WARMUP_SHARE_OF_SHORT_RUNS = 0.25
SAMPLE_EVERY_S = 5.0
# RSS moves with every collection and allocator decision; the median of a few samples is the reading.
READING_SAMPLES = 3
# Two seconds of batches: a collector pausing that long is behind, not momentarily slow.
MAX_IN_FLIGHT = 100
REQUEST_TIMEOUT_S = 30.0
TEMPLATES = 2000
# How long the scorer and alerts get to work off their lag once the feed stops.
DRAIN_TIMEOUT_S = 420.0
DRAIN_POLL_S = 2.0
READ_TIMEOUT_S = 300.0
PROGRESS_EVERY_S = 60.0
SERVICES = ("collector", "scorer", "alerts")
SERVERS = ("broker", "redis")
ACHIEVED_RATE_GOAL_SHARE = 0.99
RSS_GROWTH_GOAL = 0.10
# Each consumer group and the topic it consumes.
CONSUMER_GROUPS = {
    "scorer": (SCORER_GROUP, topics.FEEDBACK),
    "alerts": (ALERTS_GROUP, topics.SCORED),
}
MIB = 1024 * 1024

ROWS = [
    Row(
        "soak_events_per_s",
        f"Events accepted per second (offered {EVENTS_PER_S})",
        "events/s",
        goal="soak_events_per_s_goal",
    ),
    Row("soak_lost", "Accepted, never scored", "events", goal="soak_lost_goal", higher_is_better=False),
    Row(
        "soak_duplicates",
        "Extra copies counted in the aggregates",
        "events",
        goal="soak_duplicates_goal",
        higher_is_better=False,
    ),
    Row("soak_scored_topic_copies", f"Extra copies on {topics.SCORED}", "events"),
    Row("soak_lag_p99_ms", "Lag, received to scored, p99", "ms"),
    Row("soak_lag_max_ms", "Lag, received to scored, max", "ms"),
    Row("soak_lag_last_minute_max_ms", "Lag in the feed's last minute, max", "ms"),
    Row("soak_lag_max_records", "Consumer-group lag sampled, max (scorer, alerts)", "records"),
    Row("soak_scorer_lag_max_records", "Scorer group lag, max", "records"),
    Row("soak_alerts_lag_max_records", "Alerts group lag, max", "records"),
    Row("soak_alerts_lag_end_records", "Alerts group lag when the feed stopped", "records"),
    Row(
        "soak_rss_growth_ratio",
        "RSS growth after warm-up, largest service",
        "",
        goal="soak_rss_growth_goal",
        higher_is_better=False,
    ),
    *(Row(f"soak_rss_growth_ratio_{name}", f"RSS growth after warm-up, {name}", "") for name in SERVICES),
]


class SoakEvents:
    """New events on demand: the demo stream's surveys and mentions, in its mix, under ids never used before."""

    def __init__(self, *, run_tag: str, templates: int = TEMPLATES) -> None:
        stream = list(
            simulate(
                events=templates,
                start=datetime.now(UTC),
                span=timedelta(hours=1),
                duplicate_rate=0,
                invalid_rate=0,
            )
        )
        surveys = [item.body for item in stream if item.kind == "survey"]
        mentions = [item.body for item in stream if item.kind == "mention"]
        if not surveys or not mentions:
            raise BenchFailed(f"the simulated stream of {templates} holds no surveys or no mentions")
        self.mention_share = len(mentions) / len(stream)
        self._surveys = cycle(surveys)
        self._mentions = cycle(mentions)
        self._run_tag = run_tag
        self._issued = 0
        self._mention_credit = 0.0

    def next_batch(self, size: int) -> tuple[str, list[dict[str, Any]]]:
        """A batch of one kind (a path takes one kind); mention batches come at the stream's share."""
        self._mention_credit += self.mention_share
        if self._mention_credit >= 1.0:
            self._mention_credit -= 1.0
            kind, templates, id_field = "mention", self._mentions, "mention_id"
        else:
            kind, templates, id_field = "survey", self._surveys, "response_id"
        occurred_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        batch = []
        for _ in range(size):
            self._issued += 1
            batch.append(
                {**next(templates), id_field: f"soak-{self._run_tag}-{self._issued}", "occurred_at": occurred_at}
            )
        return kind, batch


@dataclass
class FeedTotals:
    accepted_ids: set[str] = field(default_factory=set)
    accepted_events: int = 0
    collector_duplicates: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    late_batches: int = 0
    late_at_s: list[float] = field(default_factory=list)
    """When each skipped batch was due, in seconds since the feed started."""
    accepted_at_s: list[tuple[float, int]] = field(default_factory=list)
    """(when the batch was due, events it had accepted), per answered batch."""
    batches_sent: int = 0
    latencies_s: list[float] = field(default_factory=list)
    started_at: float = 0.0
    stopped_at: float = 0.0


class SoakFeeder:
    """Posts a new signed batch every period on a thread of its own, whatever the answers take (open loop).

    It speaks HTTP with the load generator's minimal client rather than httpx, which costs about
    twenty times its CPU per request: on a shared two-core machine that CPU is the services'.
    """

    def __init__(self, *, base_url: str, secret: str, events_per_s: float, events_per_batch: int) -> None:
        self._idle = IdleConnections.for_base_url(base_url)
        self._signer = Signer(secret)
        self._events = SoakEvents(run_tag=uuid.uuid4().hex[:12])
        self._events_per_batch = events_per_batch
        self._period_s = events_per_batch / events_per_s
        self._stopping = threading.Event()
        self.totals = FeedTotals()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._feed()), name="soak-feeder", daemon=True)

    @property
    def mention_share(self) -> float:
        return self._events.mention_share

    def start(self) -> SoakFeeder:
        self._thread.start()
        return self

    def stop(self) -> FeedTotals:
        self._stopping.set()
        self._thread.join(timeout=REQUEST_TIMEOUT_S * 2)
        if self._thread.is_alive():
            raise BenchFailed(f"the feeder did not stop within {REQUEST_TIMEOUT_S * 2:g} s")
        return self.totals

    async def _feed(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.totals.started_at = time.monotonic()
        tick = 0
        while not self._stopping.is_set():
            await asyncio.sleep(max(0.0, started + tick * self._period_s - loop.time()))
            due_s = tick * self._period_s
            tick += 1
            if len(in_flight) >= MAX_IN_FLIGHT:
                self.totals.late_batches += 1
                self.totals.late_at_s.append(due_s)
                continue
            task = asyncio.create_task(self._post_batch(due_s))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        self.totals.stopped_at = time.monotonic()
        await asyncio.gather(*in_flight)
        self._idle.close_all()

    async def _post_batch(self, due_s: float) -> None:
        kind, batch = self._events.next_batch(self._events_per_batch)
        body = encode(batch)
        target = f"/v1/{kind}s?{urlencode({'channel': CHANNEL})}"
        self.totals.batches_sent += 1
        connection = self._idle.take()
        sent_at = time.perf_counter()
        try:
            status, answer_body = await asyncio.wait_for(
                connection.exchange(target, body, self._signer.headers(body)), REQUEST_TIMEOUT_S
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as error:
            self.totals.failures[type(error).__name__] += 1
            return
        self._idle.give_back(connection)
        self.totals.latencies_s.append(time.perf_counter() - sent_at)
        if status != 202:
            self.totals.failures[f"HTTP {status}"] += 1
            return
        answer = json.loads(answer_body)
        self.totals.accepted_events += answer["accepted"]
        self.totals.accepted_at_s.append((due_s, answer["accepted"]))
        self.totals.collector_duplicates += answer["duplicates"]
        self.totals.accepted_ids.update(answer["event_ids"])


@dataclass(frozen=True)
class Sample:
    at_s: float
    """Seconds since the feed started."""
    rss_bytes: dict[str, int]
    lag_records: dict[str, int]
    load_1m: float


def resident_bytes(pid: int) -> int:
    """The process's RSS plus its children's, should it have spawned helpers."""
    process = psutil.Process(pid)
    return int(sum(member.memory_info().rss for member in (process, *process.children(recursive=True))))


class GroupLag:
    """Records each consumer group has yet to commit: the broker's log ends minus the group's committed offsets.

    Read from the broker rather than the services' `/metrics` lag gauges, which a service too busy
    to answer its HTTP port in time would leave unsampled just when its lag matters.
    """

    def __init__(self, kafka: KafkaSettings) -> None:
        self._admin = KafkaAdminClient(
            bootstrap_servers=kafka.bootstrap_servers.split(","),
            client_id=f"{kafka.client_id}-bench-lag",
            security_protocol=kafka.security_protocol,
        )
        self._ends = make_consumer(kafka, group_id=f"bench-soak-ends-{uuid.uuid4().hex[:8]}", topics=[])

    def records(self, group: str, topic: str) -> int:
        committed = self._admin.list_group_offsets(group)[group]
        partitions = [TopicPartition(topic, partition) for partition in self._ends.partitions_for_topic(topic) or []]
        return sum(
            max(0, end - max(0, committed[partition].offset if partition in committed else 0))
            for partition, end in self._ends.end_offsets(partitions).items()
        )

    def by_service(self) -> dict[str, int]:
        return {name: self.records(group, topic) for name, (group, topic) in CONSUMER_GROUPS.items()}

    def close(self) -> None:
        self._ends.close()
        self._admin.close()


class Sampler:
    def __init__(self, stack: Stack, lag: GroupLag) -> None:
        self._stack = stack
        self._lag = lag
        self.samples: list[Sample] = []

    def take(self, at_s: float) -> Sample:
        for name in SERVICES:
            if not self._stack.processes[name].alive():
                raise BenchFailed(f"the {name} exited; see {self._stack.processes[name].log}")
        rss = {
            name: resident_bytes(self._stack.processes[name].pid)
            for name in (*SERVICES, *SERVERS)
            if name in self._stack.processes
        }
        sample = Sample(at_s=at_s, rss_bytes=rss, lag_records=self._lag.by_service(), load_1m=os.getloadavg()[0])
        self.samples.append(sample)
        return sample


def rss_growth(samples: Sequence[tuple[float, int]], *, warmup_s: float, readings: int = READING_SAMPLES) -> float:
    """(RSS at the end - RSS after warm-up) / RSS after warm-up, each reading the median of `readings` samples.

    The first reading is taken from the first samples at or after `warmup_s`, the last from the
    last samples; NaN when there are too few samples after the warm-up for two separate readings.
    """
    after_warmup = [rss for at_s, rss in samples if at_s >= warmup_s]
    if len(after_warmup) < 2 * readings:
        return float("nan")
    start = median(after_warmup[:readings])
    end = median(after_warmup[-readings:])
    return (end - start) / start


@dataclass(frozen=True)
class Delivery:
    accepted: int
    lost: int
    scored_topic_copies: int
    aggregated: int
    aggregate_duplicates: int
    aggregate_missing: int


def check_delivery(accepted: Collection[str], scored_copies: Mapping[str, int], aggregated: int) -> Delivery:
    """Accepted ids against the scored topic's copies of them and the aggregates' event count.

    A copy on the topic beyond the first is reported, not counted as a duplicate: consumers
    de-duplicate by event id. A count in the aggregates beyond the events scored is a duplicate.
    """
    scored = [event_id for event_id in accepted if scored_copies.get(event_id, 0) > 0]
    copies = sum(scored_copies.get(event_id, 0) for event_id in accepted) - len(scored)
    return Delivery(
        accepted=len(accepted),
        lost=len(accepted) - len(scored),
        scored_topic_copies=copies,
        aggregated=aggregated,
        aggregate_duplicates=max(0, aggregated - len(scored)),
        aggregate_missing=max(0, len(scored) - aggregated),
    )


def max_by_minute(lags: Sequence[tuple[float, float]]) -> list[float]:
    """The largest lag among events received in each whole minute of the feed, by (seconds since start, lag)."""
    maxima: dict[int, float] = {}
    for at_s, lag in lags:
        minute = max(0, int(at_s // 60))
        maxima[minute] = max(maxima.get(minute, lag), lag)
    return [maxima.get(minute, float("nan")) for minute in range(max(maxima) + 1)] if maxima else []


@dataclass(frozen=True)
class ScoredRead:
    copies: Counter[str]
    lags: list[tuple[float, float]]
    """(seconds from the feed's start to the event's receipt, received-to-scored lag in ms)."""


class ScoredTail:
    """Reads the scored topic (committed records only) on a thread of its own, as it is written.

    Reading the run's 300,000 scored records from the start after the feed took the local broker
    (in-memory storage) longer than five minutes, so the reader follows the tail instead.
    """

    def __init__(self, kafka: KafkaSettings, *, feed_started: datetime) -> None:
        self._kafka = kafka
        self._feed_started = feed_started
        self._copies: Counter[str] = Counter()
        self._lags: list[tuple[float, float]] = []
        self._finishing = threading.Event()
        self._abandoned = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._follow, name="scored-tail", daemon=True)

    @property
    def records_read(self) -> int:
        return len(self._lags)

    def start(self) -> ScoredTail:
        self._thread.start()
        return self

    def abandon(self) -> None:
        self._abandoned.set()

    def finish(self, *, timeout_s: float = READ_TIMEOUT_S) -> ScoredRead:
        """Reads on up to the topic's end as it is now, and gives everything read."""
        self._finishing.set()
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            self._abandoned.set()
            raise BenchFailed(f"reading {topics.SCORED} did not reach its end {timeout_s:g} s after the drain")
        if self._error is not None:
            raise BenchFailed(f"reading {topics.SCORED} failed: {self._error!r}") from self._error
        return ScoredRead(copies=self._copies, lags=self._lags)

    def _follow(self) -> None:
        consumer = make_consumer(self._kafka, group_id=f"bench-soak-reader-{uuid.uuid4().hex[:8]}", topics=[])
        try:
            partitions = [
                TopicPartition(topics.SCORED, partition)
                for partition in sorted(consumer.partitions_for_topic(topics.SCORED) or [])
            ]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            remaining: dict[TopicPartition, int] | None = None
            while not self._abandoned.is_set():
                if remaining is None and self._finishing.is_set():
                    remaining = dict(consumer.end_offsets(partitions))
                if remaining is not None:
                    remaining = {
                        partition: end for partition, end in remaining.items() if consumer.position(partition) < end
                    }
                    if not remaining:
                        return
                for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                    for record in records:
                        self._count(record.value)
        except Exception as error:  # handed to the caller of finish()
            self._error = error
        finally:
            consumer.close()

    def _count(self, value: bytes) -> None:
        scored = json.loads(value)
        event = scored["event"]
        self._copies[event["event_id"]] += 1
        received_at = datetime.fromisoformat(event["received_at"])
        lag_ms = (datetime.fromisoformat(scored["scored_at"]) - received_at).total_seconds() * 1000
        self._lags.append(((received_at - self._feed_started).total_seconds(), lag_ms))


def aggregated_events(redis_url: str) -> int:
    """Events counted in the aggregates: every applied event adds 1 to `_all:n` of its brand, stage and day."""
    client = make_redis(RedisSettings(url=SecretStr(redis_url)))
    try:
        total = 0
        for key in client.scan_iter(match="cx:*:drv:*", count=1000):
            counted = client.hget(as_text(key), "_all:n")
            total += int(as_text(counted)) if counted is not None else 0
        return total
    finally:
        client.close()


def warmup_for(duration_s: float) -> float:
    return min(WARMUP_S, duration_s * WARMUP_SHARE_OF_SHORT_RUNS)


def run(*, duration_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> SectionReport:
    return in_scratch_dir(
        "soak", lambda run_dir: measure(run_dir, duration_s=duration_s or DEFAULT_DURATION_S, progress=progress)
    )


@dataclass(frozen=True)
class SoakRun:
    duration_s: float
    warmup_s: float
    feed: FeedTotals
    samples: list[Sample]
    delivery: Delivery
    scored: ScoredRead
    drain: Drain
    cpu_seconds: dict[str, float]
    mention_share: float


def measure(run_dir: Path, *, duration_s: float, progress: Callable[[str], None]) -> SectionReport:
    warmup_s = warmup_for(duration_s)
    progress("starting broker, Redis, collector, scorer and alerts")
    with own_servers_only(), running_stack(run_dir) as stack:
        kafka = KafkaSettings(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
        lag = GroupLag(kafka)
        sampler = Sampler(stack, lag)
        cpu_before = cpu_seconds(stack)
        feeder = SoakFeeder(
            base_url=stack.processes["collector"].address,
            secret=stack.env["DEMO_WEBHOOK_SECRET"],
            events_per_s=EVENTS_PER_S,
            events_per_batch=BATCH_EVENTS,
        )
        progress(
            f"feeding {EVENTS_PER_S} events/s in batches of {BATCH_EVENTS} for {duration_s:g} s "
            f"(the first {warmup_s:g} s are warm-up)"
        )
        feed_started = datetime.now(UTC)
        tail = ScoredTail(kafka, feed_started=feed_started).start()
        try:
            started = time.monotonic()
            feeder.start()
            try:
                next_sample_s, next_progress_s = 0.0, PROGRESS_EVERY_S
                while (elapsed := time.monotonic() - started) < duration_s:
                    if elapsed >= next_sample_s:
                        next_sample_s += SAMPLE_EVERY_S
                        sample = sampler.take(elapsed)
                        if elapsed >= next_progress_s:
                            next_progress_s += PROGRESS_EVERY_S
                            progress(describe(sample, feeder.totals, tail.records_read))
                    time.sleep(max(0.0, min(next_sample_s, duration_s) - (time.monotonic() - started)))
            finally:
                feed = feeder.stop()
            # The end reading, taken before the services go idle.
            sampler.take(time.monotonic() - started)
            cpu_used = {name: cpu_seconds(stack).get(name, 0.0) - before for name, before in cpu_before.items()}
            progress(f"feed stopped: {feed.accepted_events:,} events accepted; waiting for scorer and alerts to drain")
            drained = drain(lag)
            progress(f"{describe_drain(drained)}; reading the rest of {topics.SCORED} and the aggregates")
            scored = tail.finish()
            delivery = check_delivery(feed.accepted_ids, scored.copies, aggregated_events(stack.env["REDIS_URL"]))
        finally:
            tail.abandon()
            lag.close()
    return report(
        SoakRun(
            duration_s=duration_s,
            warmup_s=warmup_s,
            feed=feed,
            samples=sampler.samples,
            delivery=delivery,
            scored=scored,
            drain=drained,
            cpu_seconds=cpu_used,
            mention_share=feeder.mention_share,
        )
    )


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each process of the stack and by this one (the feeder and sampler)."""
    pids = {name: stack.processes[name].pid for name in (*SERVICES, *SERVERS) if name in stack.processes}
    used = {}
    for name, pid in {**pids, "bench": os.getpid()}.items():
        times = psutil.Process(pid).cpu_times()
        used[name] = float(times.user + times.system)
    return used


def describe(sample: Sample, feed: FeedTotals, scored_read: int) -> str:
    rss = ", ".join(f"{name} {sample.rss_bytes[name] / MIB:,.0f}" for name in SERVICES)
    lags = ", ".join(f"{name} {lag}" for name, lag in sample.lag_records.items())
    return (
        f"{sample.at_s:,.0f} s: {feed.accepted_events:,} accepted, {feed.late_batches} late batches, "
        f"{sum(feed.failures.values())} failed, {scored_read:,} read back scored; RSS MiB {rss}; "
        f"lag records {lags}; load {sample.load_1m:.1f}"
    )


@dataclass(frozen=True)
class Drain:
    seconds: dict[str, float]
    """Per group, seconds from the feed's stop until it had committed everything; absent past the timeout."""
    lag_left: dict[str, int]
    """Per group, the records still uncommitted when the wait ended."""


def drain(lag: GroupLag) -> Drain:
    started = time.monotonic()
    drained: dict[str, float] = {}
    while True:
        left = lag.by_service()
        for name, records in left.items():
            if records == 0 and name not in drained:
                drained[name] = time.monotonic() - started
        if len(drained) == len(CONSUMER_GROUPS) or time.monotonic() - started >= DRAIN_TIMEOUT_S:
            return Drain(seconds=drained, lag_left=left)
        time.sleep(DRAIN_POLL_S)


def describe_drain(drained: Drain) -> str:
    return ", ".join(
        f"{name} drained {drained.seconds[name]:,.0f} s after the feed stopped"
        if name in drained.seconds
        else f"{name} still {drained.lag_left[name]:,} records behind {DRAIN_TIMEOUT_S:g} s after it"
        for name in CONSUMER_GROUPS
    )


def growth_by_service(samples: Sequence[Sample], warmup_s: float) -> dict[str, float]:
    return {
        name: rss_growth([(sample.at_s, sample.rss_bytes[name]) for sample in samples], warmup_s=warmup_s)
        for name in (*SERVICES, *SERVERS)
        if all(name in sample.rss_bytes for sample in samples)
    }


def rss_after_warmup(samples: Sequence[Sample], name: str, warmup_s: float) -> tuple[float, float]:
    after = [sample.rss_bytes[name] for sample in samples if sample.at_s >= warmup_s]
    return median(after[:READING_SAMPLES]) / MIB, median(after[-READING_SAMPLES:]) / MIB


def report(run: SoakRun) -> SectionReport:
    feed, delivery = run.feed, run.delivery
    feed_s = (feed.stopped_at - feed.started_at) or run.duration_s
    growth = growth_by_service(run.samples, run.warmup_s)
    lags_ms = sorted(lag for _, lag in run.scored.lags)
    minute_maxima = max_by_minute(run.scored.lags)
    lag_records = {
        name: max((sample.lag_records.get(name, 0) for sample in run.samples), default=0) for name in CONSUMER_GROUPS
    }
    batch_latencies = sorted(feed.latencies_s)
    metrics: dict[str, float] = {
        "soak_duration_s": run.duration_s,
        "soak_warmup_s": run.warmup_s,
        "soak_offered_events_per_s": float(EVENTS_PER_S),
        "soak_events_per_s": feed.accepted_events / feed_s,
        "soak_events_per_s_after_warmup": sum(count for due_s, count in feed.accepted_at_s if due_s >= run.warmup_s)
        / (feed_s - run.warmup_s),
        "soak_events_per_s_goal": EVENTS_PER_S * ACHIEVED_RATE_GOAL_SHARE,
        "soak_accepted_events": float(delivery.accepted),
        "soak_lost": float(delivery.lost),
        "soak_lost_goal": 0.0,
        "soak_duplicates": float(delivery.aggregate_duplicates),
        "soak_duplicates_goal": 0.0,
        "soak_aggregates_missing": float(delivery.aggregate_missing),
        "soak_scored_topic_copies": float(delivery.scored_topic_copies),
        "soak_collector_duplicates": float(feed.collector_duplicates),
        "soak_failed_requests": float(sum(feed.failures.values())),
        "soak_late_batches": float(feed.late_batches),
        "soak_late_batches_after_warmup": float(sum(1 for due_s in feed.late_at_s if due_s >= run.warmup_s)),
        "soak_batch_p99_ms": percentile(batch_latencies, 0.99) * 1000,
        "soak_lag_p50_ms": percentile(lags_ms, 0.50),
        "soak_lag_p99_ms": percentile(lags_ms, 0.99),
        "soak_lag_max_ms": lags_ms[-1] if lags_ms else float("nan"),
        "soak_lag_last_minute_max_ms": minute_maxima[-1] if minute_maxima else float("nan"),
        "soak_lag_max_records": float(max(lag_records.values())),
        **{f"soak_{name}_lag_max_records": float(lag) for name, lag in lag_records.items()},
        **{f"soak_{name}_drain_s": seconds for name, seconds in run.drain.seconds.items()},
        **{f"soak_{name}_lag_after_drain_records": float(left) for name, left in run.drain.lag_left.items()},
        **{f"soak_{name}_lag_end_records": float(run.samples[-1].lag_records[name]) for name in CONSUMER_GROUPS},
        "soak_rss_growth_ratio": max(growth[name] for name in SERVICES),
        "soak_rss_growth_goal": RSS_GROWTH_GOAL,
        **{f"soak_rss_growth_ratio_{name}": value for name, value in growth.items()},
        "soak_load_average": mean(sample.load_1m for sample in run.samples),
    }
    return SectionReport(
        name="soak",
        title=f"Soak and load: {run.duration_s / 60:g} minutes at {EVENTS_PER_S} events/s",
        # NaN is not JSON; a figure that could not be measured is left out (its row shows "-").
        metrics={key: value for key, value in metrics.items() if not math.isnan(value)},
        rows=ROWS,
        notes=notes(run, growth, minute_maxima, feed_s),
    )


def records_by_minute(samples: Sequence[Sample], name: str) -> list[float]:
    return max_by_minute([(sample.at_s, float(sample.lag_records[name])) for sample in samples])


def notes(run: SoakRun, growth: Mapping[str, float], minute_maxima: Sequence[float], feed_s: float) -> list[str]:
    feed = run.feed
    readings = "; ".join(
        "{} {:,.0f} → {:,.0f} MiB ({:+.1%})".format(
            name, *rss_after_warmup(run.samples, name, run.warmup_s), growth[name]
        )
        for name in growth
    )
    cpu = ", ".join(f"{name} {seconds / feed_s:.0%}" for name, seconds in run.cpu_seconds.items())
    loads = [sample.load_1m for sample in run.samples]
    return [
        f"Feed: the collector was sent {BATCH_EVENTS}-event signed batches every "
        f"{BATCH_EVENTS / EVENTS_PER_S * 1000:g} ms "
        f"(open loop, at most {MAX_IN_FLIGHT} in flight) for {run.duration_s:g} s: new events in the demo stream's mix "
        f"({run.mention_share:.0%} of batches mentions to `/v1/mentions`, the rest surveys to `/v1/surveys`), "
        f"{feed.accepted_events:,} accepted in {feed.batches_sent:,} batches, {sum(feed.failures.values())} failed "
        f"({dict(feed.failures) or 'none'}), {feed.late_batches} skipped as late "
        f"({sum(1 for due_s in feed.late_at_s if due_s >= run.warmup_s)} of them after the warm-up); batch p99 "
        f"{percentile(sorted(feed.latencies_s), 0.99) * 1000:,.0f} ms. The feed itself lasted {feed_s:,.1f} s.",
        f"Delivery: every event id of the 202s was looked up on `{topics.SCORED}`, read (read_committed) as it was "
        f"written and to its end after the feed ({describe_drain(run.drain)}): {run.delivery.lost} never scored, "
        f"{run.delivery.scored_topic_copies} extra copies on the topic; the aggregates count "
        f"{run.delivery.aggregated:,} events (the sum of every brand, stage and day's `_all:n`), "
        f"{run.delivery.aggregate_duplicates} more and {run.delivery.aggregate_missing} fewer than were scored. "
        f"The collector answered {feed.collector_duplicates} of them as duplicates.",
        "Lag: `scored_at` minus the collector's `received_at` for every accepted event; largest per minute of "
        "the feed (ms): " + ", ".join(f"{value:,.0f}" for value in minute_maxima) + ". Consumer lag in records "
        f"is each group's committed offsets behind the log end, from the broker every {SAMPLE_EVERY_S:g} s; "
        "largest per minute: "
        + "; ".join(
            f"{name} (`{group}`) " + ", ".join(f"{value:,.0f}" for value in records_by_minute(run.samples, name))
            for name, (group, _) in CONSUMER_GROUPS.items()
        )
        + ".",
        f"Memory: RSS of each process sampled every {SAMPLE_EVERY_S:g} s; growth is from the median of the first "
        f"{READING_SAMPLES} samples after the {run.warmup_s:g} s warm-up to the median of the last {READING_SAMPLES}: "
        f"{readings}. Broker and Redis are shown but hold the data by design, so the goal is on the services.",
        f"Machine: {os.cpu_count()} cores shared with other jobs during the run; 1-minute load average "
        f"{min(loads):.1f} to {max(loads):.1f} (mean {mean(loads):.1f}); CPU used over the feed: {cpu}. "
        "The feeder and sampler ran in the bench process (`bench`).",
        "Not part of the default run (ten minutes); re-run with `cxpulse bench --section soak` "
        "(`--duration SECONDS` for a shorter trial, warm-up a quarter of it up to 60 s).",
    ]
