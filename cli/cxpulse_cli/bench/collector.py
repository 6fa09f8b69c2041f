"""`cxpulse bench --section collector`: the collector against its two baselines, side by side.

One run starts its own broker, Redis and collector on loopback (nothing shared with `make up`),
plus the bare baseline app, and measures in turn:

- single-event POSTs against baseline one (the same signature check and validation with nothing
  behind them), as baseline, collector, baseline;
- batch POSTs of new events against baseline two (a bare producer with the collector's settings
  sending the collector's records), as producer, collector, producer.

Each baseline runs before and after its subject and the mean is compared, so a machine that
speeds up or slows down during the run biases neither side. Goals: single ≥ 0.5 x baseline one,
batch ≥ 0.75 x baseline two.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import mean

from cxpulse_cli.bench.loadgen import LoadPlan, LoadResult, run_load
from cxpulse_cli.bench.producer_baseline import ProducerPlan, ProducerResult, run_producer
from cxpulse_cli.bench.results import Row, SectionReport, in_scratch_dir
from cxpulse_cli.localstack import (
    ManagedProcess,
    Stack,
    running_stack,
    start_asgi_app,
    wait_ready,
)

TITLE = "Collector"
DEFAULT_DURATION_S = 15.0
WARMUP_S = 3.0
CHANNEL = "demo"
# Enough requests in flight to keep one uvicorn worker busy while others wait on Redis and the broker.
SINGLE_CONCURRENCY = 32
BATCH_EVENTS = 100
BATCH_CONCURRENCY = 8
SINGLE_RATIO_GOAL = 0.5
BATCH_RATIO_GOAL = 0.75
# Servers named here would be used instead of the bench's own (see `start_stack`), making the run
# depend on whatever else they serve.
SHARED_SERVER_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")
BASELINE_APP = "cxpulse_cli.bench.baseline_app:create_app"

ROWS = [
    Row(
        "collector_single_rps",
        "Single-event POSTs",
        "req/s",
        baseline="collector_baseline_rps",
        ratio="collector_single_ratio",
        goal="collector_single_ratio_goal",
    ),
    Row("collector_single_p50_ms", "Single-event latency p50", "ms", baseline="collector_baseline_p50_ms"),
    Row("collector_single_p99_ms", "Single-event latency p99", "ms", baseline="collector_baseline_p99_ms"),
    Row(
        "collector_batch_events_per_s",
        f"Events in batches of {BATCH_EVENTS}",
        "events/s",
        baseline="producer_baseline_events_per_s",
        ratio="collector_batch_ratio",
        goal="collector_batch_ratio_goal",
    ),
    Row("collector_batch_p50_ms", f"Batch of {BATCH_EVENTS} latency p50", "ms"),
    Row("collector_batch_p99_ms", f"Batch of {BATCH_EVENTS} latency p99", "ms"),
]


class BenchFailed(RuntimeError):
    pass


def run(*, duration_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> SectionReport:
    return in_scratch_dir(
        "collector", lambda run_dir: measure(run_dir, duration_s=duration_s or DEFAULT_DURATION_S, progress=progress)
    )


def measure(run_dir: Path, *, duration_s: float, progress: Callable[[str], None]) -> SectionReport:
    progress("starting broker, Redis and collector")
    with own_servers_only(), running_stack(run_dir, services=("collector",)) as stack:
        baseline_app = start_baseline_app(stack, run_dir / "logs")
        try:
            wait_ready(baseline_app)
            secret = stack.env["DEMO_WEBHOOK_SECRET"]

            def single(name: str, address: str) -> LoadResult:
                progress(f"single events -> {name} ({WARMUP_S:g} s warm-up + {duration_s:g} s)")
                plan = LoadPlan(
                    base_url=address,
                    channel=CHANNEL,
                    events_per_request=1,
                    concurrency=SINGLE_CONCURRENCY,
                    warmup_s=WARMUP_S,
                    duration_s=duration_s,
                )
                return checked(name, run_load(plan, secret))

            def bare_producer() -> ProducerResult:
                progress(f"bare producer ({WARMUP_S:g} s warm-up + {duration_s:g} s)")
                plan = ProducerPlan(
                    bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"],
                    warmup_s=WARMUP_S,
                    duration_s=duration_s,
                )
                result = run_producer(plan)
                if result.failures or not result.events:
                    raise BenchFailed(f"bare producer: {result.failures} of {result.events} sends failed")
                return result

            collector_address = stack.processes["collector"].address
            baseline_runs = [single("baseline app", baseline_app.address)]
            collector_single = single("collector", collector_address)
            baseline_runs.append(single("baseline app", baseline_app.address))

            producer_runs = [bare_producer()]
            progress(f"batches of {BATCH_EVENTS} -> collector ({WARMUP_S:g} s warm-up + {duration_s:g} s)")
            batch_plan = LoadPlan(
                base_url=collector_address,
                channel=CHANNEL,
                events_per_request=BATCH_EVENTS,
                concurrency=BATCH_CONCURRENCY,
                warmup_s=WARMUP_S,
                duration_s=duration_s,
                as_batch=True,
            )
            collector_batch = checked("collector (batches)", run_load(batch_plan, secret))
            producer_runs.append(bare_producer())
            return report(
                collector_single=collector_single,
                baseline_runs=baseline_runs,
                collector_batch=collector_batch,
                producer_runs=producer_runs,
                duration_s=duration_s,
            )
        finally:
            baseline_app.stop()


def report(
    *,
    collector_single: LoadResult,
    baseline_runs: list[LoadResult],
    collector_batch: LoadResult,
    producer_runs: list[ProducerResult],
    duration_s: float,
) -> SectionReport:
    baseline_rps = mean(run.requests_per_s for run in baseline_runs)
    producer_events_per_s = mean(run.events_per_s for run in producer_runs)
    metrics = {
        "collector_single_rps": collector_single.requests_per_s,
        "collector_single_p50_ms": collector_single.p50_ms,
        "collector_single_p99_ms": collector_single.p99_ms,
        "collector_baseline_rps": baseline_rps,
        "collector_baseline_p50_ms": mean(run.p50_ms for run in baseline_runs),
        "collector_baseline_p99_ms": mean(run.p99_ms for run in baseline_runs),
        "collector_batch_events_per_s": collector_batch.events_per_s,
        "collector_batch_p50_ms": collector_batch.p50_ms,
        "collector_batch_p99_ms": collector_batch.p99_ms,
        "producer_baseline_events_per_s": producer_events_per_s,
        "collector_single_ratio": collector_single.requests_per_s / baseline_rps,
        "collector_single_ratio_goal": SINGLE_RATIO_GOAL,
        "collector_batch_ratio": collector_batch.events_per_s / producer_events_per_s,
        "collector_batch_ratio_goal": BATCH_RATIO_GOAL,
    }
    load_runs = [*baseline_runs, collector_single, collector_batch]
    notes = [
        f"Single: {SINGLE_CONCURRENCY} connections in a closed loop, each request one new event signed "
        "with its own `webhook-id`. Baseline one is `cxpulse_cli.bench.baseline_app` (the collector's "
        "signature check and pydantic validation, no Redis, no publish) under the same uvicorn; it ran "
        "before and after the collector ("
        + " and ".join(f"{run.requests_per_s:,.0f}" for run in baseline_runs)
        + " req/s) and its mean is shown; its latencies are the means of both runs' percentiles.",
        f"Batch: {BATCH_CONCURRENCY} connections posting JSON arrays of {BATCH_EVENTS} new events. "
        "Baseline two is a bare kafka-python producer (`make_producer`, the collector's settings) "
        "sending the records the collector's `to_record` builds, seven headers each, until every one "
        "is acknowledged; it ran before and after the collector ("
        + " and ".join(f"{run.events_per_s:,.0f}" for run in producer_runs)
        + " events/s) and its mean is shown.",
        "The collector publishes through its producer child process (`cxpulse_shared.producer_process`), "
        "with the same producer settings as baseline two; both run under uvicorn's default asyncio loop "
        "and h11 parser.",
        f"Every phase warms up for {WARMUP_S:g} s and then measures {duration_s:g} s. The load generator "
        "runs in a process of its own and used at most "
        f"{max(run.client_cpu_share for run in load_runs):.0%} of a core.",
    ]
    return SectionReport(name="collector", title=TITLE, metrics=metrics, rows=ROWS, notes=notes)


def checked(name: str, result: LoadResult) -> LoadResult:
    """A run with failed requests measured something else than the happy path, so it counts as none."""
    if result.failures or not result.requests:
        raise BenchFailed(f"{name}: {result.requests} requests succeeded, failures: {result.failures}")
    return result


def start_baseline_app(stack: Stack, log_dir: Path) -> ManagedProcess:
    """Baseline one under uvicorn with the arguments `start_service` gives the collector."""
    return start_asgi_app(
        "baseline-app", BASELINE_APP, {"DEMO_WEBHOOK_SECRET": stack.env["DEMO_WEBHOOK_SECRET"]}, log_dir
    )


@contextlib.contextmanager
def own_servers_only() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in SHARED_SERVER_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
