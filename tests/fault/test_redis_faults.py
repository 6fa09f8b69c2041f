"""Redis under a running scorer: restarted with AOF, killed and started empty, full under `noeviction`.

Each test starts its own Redis (the session's is never restarted or filled) and one scorer in a
fresh consumer group on the session broker.
- Restart: AOF with `appendfsync always`. The scorer commits its offsets right after Redis has
  answered, so a write Redis acknowledged but had not yet fsynced (up to a second of them under
  `everysec`) would be lost for good after a host crash: the committed offset says it is done.
  `always` makes the acknowledgement mean "on disk"; the cost is one fsync per brand and batch.
  A SIGTERM shutdown fsyncs under either setting; the test restarts that way.
- Lost: the aggregates are rebuilt from the topic by the documented replay command, `cxpulse rescore`.
- Full: a refused write commits nothing, so the committed offsets never pass an unapplied event,
  and the scorer resumes by itself once Redis has room again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis as redis_client

from cxpulse_cli.localstack import ManagedProcess, start_redis, start_service
from cxpulse_collector.domain.ingest import FeedbackEvent
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates, brand_prefix
from cxpulse_scorer.domain.satisfaction import SatisfactionCounts
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.feedback_stream import make_events, publish, reference_counts
from tests.support.kafka_reader import end_offsets
from tests.support.scorer_fault import (
    WINDOW,
    applied_total,
    committed_offsets,
    fault_events,
    fault_timeout_s,
    group_lag,
    scored_copies,
    scorer_env,
    start_group_at_end,
    wait_for_total,
    wait_for_zero_lag,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(fault_timeout_s())]
EVENTS = fault_events(default=3000)
REDIS_REFUSED = b"OOM command not allowed"
REDIS_UNREACHABLE = b"redis.exceptions.ConnectionError"


@dataclass
class ScoredStream:
    """One scorer in a fresh group over its own Redis, and the events a test streams through it."""

    kafka: KafkaSettings
    redis_url: str
    group: str
    group_start: dict[int, int]
    brands: list[str]
    events: list[FeedbackEvent]
    expected: dict[tuple[str, str], SatisfactionCounts]
    scorer: ManagedProcess
    scored_start: dict[int, int]

    def aggregates(self) -> RedisAggregates:
        """A fresh client each time: the server behind the URL may have been restarted."""
        return RedisAggregates(redis_client.Redis.from_url(self.redis_url))

    def applied(self) -> int:
        return applied_total(self.aggregates(), self.brands)

    def wait_for_applied(self, expected: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return wait_for_total(self.aggregates(), self.brands, expected, max(deadline - time.monotonic(), 0))
            except redis_client.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def scored_topic_summary(self) -> str:
        records, distinct = scored_copies(
            self.kafka, {str(event.event_id).encode() for event in self.events}, self.scored_start
        )
        assert distinct == len(self.events), "an event is missing from the scored topic"
        return f"scored topic (read_committed): {records} records for {distinct} events"

    def assert_exact(self) -> None:
        aggregates = self.aggregates()
        for (brand, stage), reference in self.expected.items():
            stored = aggregates.satisfaction(brand, stage, at=datetime.now(UTC), window=WINDOW)
            assert stored == reference, f"{brand}/{stage}: {stored} != {reference}"


@pytest.fixture
def stream_through_scorer(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> Iterator[Callable[[str, int], ScoredStream]]:
    started: list[ManagedProcess] = []

    def start(redis_url: str, seed: int) -> ScoredStream:
        brands = [f"redis-fault-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        events = make_events(EVENTS, brands=brands, seed=seed)
        group = f"cx-scorer-redis-{uuid.uuid4().hex[:8]}"
        group_start = start_group_at_end(kafka_settings, group)
        scored_start = end_offsets(kafka_settings.bootstrap_servers, topics.SCORED)
        redis_settings = RedisSettings(url=redis_url)
        env = scorer_env(kafka_settings, redis_settings, f"redis-fault-{seed}", group)
        scorer = start_service("scorer", env, tmp_path / "logs")
        started.append(scorer)
        return ScoredStream(
            kafka=kafka_settings,
            redis_url=redis_url,
            group=group,
            group_start=group_start,
            brands=brands,
            events=events,
            expected=reference_counts(events),
            scorer=scorer,
            scored_start=scored_start,
        )

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[ManagedProcess]]:
    """The Redis servers a test starts, stopped at the end whatever state the test left them in."""
    servers: list[ManagedProcess] = []
    yield servers
    for server in servers:
        server.stop()


def port_of(server: ManagedProcess) -> int:
    port = urlsplit(server.address).port
    assert port is not None
    return port


def test_redis_restarted_with_aof_keeps_exact_aggregates(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    own_redis: list[ManagedProcess],
    stream_through_scorer: Callable[[str, int], ScoredStream],
) -> None:
    data_dir = tmp_path / "redis"
    own_redis.append(start_redis(data_dir, tmp_path / "logs", appendfsync="always"))
    stream = stream_through_scorer(own_redis[0].address, 31)
    publish(kafka_settings, stream.events)
    assert stream.wait_for_applied(EVENTS // 3, timeout_s=240) >= EVENTS // 3

    before_shutdown = stream.applied()
    own_redis[0].stop()  # SIGTERM: Redis writes and fsyncs its AOF on the way out
    time.sleep(3)  # long enough for the scorer to fail a batch against the missing server
    own_redis.append(start_redis(data_dir, tmp_path / "logs", port=port_of(own_redis[0]), appendfsync="always"))
    restarted_at = time.monotonic()
    assert stream.wait_for_applied(before_shutdown, timeout_s=30) >= before_shutdown, "the AOF did not bring state back"
    assert REDIS_UNREACHABLE in Path(stream.scorer.log).read_bytes(), "the scorer never met the missing server"

    assert stream.wait_for_applied(EVENTS, timeout_s=300) == EVENTS
    lag = wait_for_zero_lag(kafka_settings, stream.group, timeout_s=120)
    drained_s = time.monotonic() - restarted_at
    assert lag == dict.fromkeys(lag, 0), f"lag left per partition: {lag}"
    time.sleep(2)  # anything still in flight would now show up as double counting
    stream.assert_exact()
    scored = stream.scored_topic_summary()
    print(
        f"redis restarted (AOF, appendfsync always) after {before_shutdown} of {EVENTS} events: all back after the "
        f"restart, lag 0 and aggregates exact {drained_s:.1f}s later; {scored}"
    )


def test_redis_lost_is_rebuilt_exactly_by_cxpulse_rescore(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    own_redis: list[ManagedProcess],
    stream_through_scorer: Callable[[str, int], ScoredStream],
) -> None:
    own_redis.append(start_redis(tmp_path / "redis", tmp_path / "logs"))
    stream = stream_through_scorer(own_redis[0].address, 32)
    publish(kafka_settings, stream.events)
    assert stream.wait_for_applied(EVENTS // 3, timeout_s=240) >= EVENTS // 3

    own_redis[0].signal(signal.SIGKILL)
    own_redis[0].stop()
    own_redis.append(start_redis(tmp_path / "redis-empty", tmp_path / "logs", port=port_of(own_redis[0])))
    lag = wait_for_zero_lag(kafka_settings, stream.group, timeout_s=300)
    assert lag == dict.fromkeys(lag, 0), f"lag left per partition: {lag}"
    survived = stream.applied()
    assert survived < EVENTS, "an empty Redis cannot hold what was applied before the kill"

    started = time.monotonic()
    brand_options = [option for brand in stream.brands for option in ("--brand", brand)]
    replay = subprocess.run(
        [str(Path(sys.executable).parent / "cxpulse"), "rescore", *brand_options],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers, "REDIS_URL": stream.redis_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    rebuilt_s = time.monotonic() - started
    assert replay.returncode == 0, replay.stderr
    assert stream.applied() == EVENTS
    stream.assert_exact()
    scored = stream.scored_topic_summary()
    print(
        f"redis SIGKILLed and started empty: {survived} of {EVENTS} events counted after the stream; "
        f"`cxpulse rescore` rebuilt them exactly in {rebuilt_s:.1f}s ({replay.stdout.strip()}); "
        f"{scored}"
    )


def test_full_redis_stops_commits_and_the_scorer_resumes_when_memory_frees(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    own_redis: list[ManagedProcess],
    stream_through_scorer: Callable[[str, int], ScoredStream],
) -> None:
    own_redis.append(start_redis(tmp_path / "redis", tmp_path / "logs"))
    stream = stream_through_scorer(own_redis[0].address, 33)
    half = EVENTS // 2
    publish(kafka_settings, stream.events[:half])
    assert stream.wait_for_applied(half, timeout_s=240) == half
    admin = redis_client.Redis.from_url(stream.redis_url)
    assert admin.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    # Full now, with a margin so that freed client buffers cannot make room for a batch by chance.
    admin.config_set("maxmemory", int(admin.info("memory")["used_memory"]) * 9 // 10)

    publish(kafka_settings, stream.events[half:])
    assert wait_for_refusals(stream.scorer, at_least=3, timeout_s=120) >= 3, "Redis never refused the scorer"
    committed = committed_offsets(kafka_settings, stream.group)
    refusals = wait_for_refusals(stream.scorer, at_least=refusal_count(stream.scorer) + 2, timeout_s=60)
    assert committed_offsets(kafka_settings, stream.group) == committed, "offsets moved while Redis refused writes"
    assert refusals >= 3
    stalled = stream.applied()
    assert stalled < EVENTS
    assert sum(group_lag(kafka_settings, stream.group).values()) >= EVENTS - stalled
    assert_commits_cover_only_applied_events(stream, committed)

    admin.config_set("maxmemory", 0)
    freed_at = time.monotonic()
    assert stream.wait_for_applied(EVENTS, timeout_s=300) == EVENTS
    lag = wait_for_zero_lag(kafka_settings, stream.group, timeout_s=120)
    resumed_s = time.monotonic() - freed_at
    assert lag == dict.fromkeys(lag, 0), f"lag left per partition: {lag}"
    time.sleep(2)  # anything still in flight would now show up as double counting
    stream.assert_exact()
    scored = stream.scored_topic_summary()
    print(
        f"redis full (noeviction) after {stalled} of {EVENTS} events: {refusals} refused batches, offsets held; "
        f"lag 0 and aggregates exact {resumed_s:.1f}s after memory was freed; {scored}"
    )


def refusal_count(scorer: ManagedProcess) -> int:
    """Batches Redis refused, from the scorer's log: each failure is logged once, with Redis' reply."""
    return Path(scorer.log).read_bytes().count(REDIS_REFUSED)


def wait_for_refusals(scorer: ManagedProcess, *, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while refusal_count(scorer) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)
    return refusal_count(scorer)


def assert_commits_cover_only_applied_events(stream: ScoredStream, committed: dict[int, int]) -> None:
    """Every record below a committed offset has been applied: its marker names its own position."""
    client = redis_client.Redis.from_url(stream.redis_url)
    markers = client.mget([f"{brand_prefix(event.brand)}applied:{event.event_id}" for event in stream.events])
    applied_offsets: dict[int, set[int]] = {}
    for marker in markers:
        if isinstance(marker, bytes):
            _topic, marked_partition, marked_offset = marker.decode().rsplit(":", 2)
            applied_offsets.setdefault(int(marked_partition), set()).add(int(marked_offset))
    for partition, offset in committed.items():
        below = set(range(stream.group_start.get(partition, 0), offset))
        missing = below - applied_offsets.get(partition, set())
        assert not missing, f"partition {partition}: committed {offset} past unapplied offsets {sorted(missing)[:5]}"
