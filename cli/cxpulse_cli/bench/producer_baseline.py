"""Baseline two of the collector benchmark: the ceiling of the Kafka client the collector uses.

A bare kafka-python producer with the collector's settings (`make_producer`) sends the records
the collector would send (built by its `to_record`: same serialized values, same seven headers)
and waits for every acknowledgement. The records are built before the clock starts, since
building them is the collector's work, not the client's. It runs in a process of its own
(`python -m cxpulse_cli.bench.producer_baseline`, plan on stdin, result on stdout).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import cycle
from typing import Any

from cxpulse_cli.bench.loadgen import SurveyFactory
from cxpulse_collector.config import CollectorSettings
from cxpulse_collector.domain.ingest import to_event
from cxpulse_collector.service import to_record
from cxpulse_contracts import SurveySubmission
from cxpulse_shared.kafka import OutgoingRecord, make_producer
from cxpulse_shared.settings import KafkaSettings

# Records are reused round-robin: the broker does not de-duplicate, and building one per send
# for a whole run would take longer than the run.
DISTINCT_RECORDS = 10_000
# The collector's `max_block_ms` (its default publish timeout), so `send()` blocks alike.
MAX_BLOCK_MS = 5_000
# The collector's own producer linger, so baseline two sends as the collector does.
COLLECTOR_LINGER_MS: int = CollectorSettings.model_fields["publish_linger_ms"].default


@dataclass(frozen=True)
class ProducerPlan:
    bootstrap_servers: str
    warmup_s: float
    duration_s: float
    channel: str = "demo"
    source: str = "cxpulse-demo"


@dataclass(frozen=True)
class ProducerResult:
    events: int
    elapsed_s: float
    events_per_s: float
    failures: int


def collector_records(plan: ProducerPlan, count: int) -> list[OutgoingRecord]:
    """What the collector would publish for `count` new survey answers from the plan's channel."""
    key = secrets.token_bytes(32)
    # A sampled `traceparent`, as the collector's request span puts in every record.
    carrier = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
    received_at = datetime.now(UTC)
    return [
        to_record(
            to_event(
                SurveySubmission.model_validate(body),
                source=plan.source,
                channel=plan.channel,
                pseudonymisation_key=key,
                received_at=received_at,
            ),
            trace_carrier=carrier,
        )
        for body in SurveyFactory().surveys(count)
    ]


def produce(plan: ProducerPlan) -> ProducerResult:
    records = cycle(collector_records(plan, DISTINCT_RECORDS))
    producer = make_producer(
        KafkaSettings(bootstrap_servers=plan.bootstrap_servers),
        max_block_ms=MAX_BLOCK_MS,
        linger_ms=COLLECTOR_LINGER_MS,
    )
    failures = 0

    def count_failure(_error: Any) -> None:
        nonlocal failures
        failures += 1

    def send_until(deadline: float) -> int:
        sent = 0
        while time.perf_counter() < deadline:
            record = next(records)
            future = producer.send(record.topic, key=record.key, value=record.value, headers=record.headers)
            future.add_errback(count_failure)
            sent += 1
        producer.flush()
        return sent

    try:
        send_until(time.perf_counter() + plan.warmup_s)
        failures = 0
        started = time.perf_counter()
        events = send_until(started + plan.duration_s)
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=10)
    return ProducerResult(events=events, elapsed_s=elapsed, events_per_s=events / elapsed, failures=failures)


def run_producer(plan: ProducerPlan) -> ProducerResult:
    """Runs the plan in a new process and waits for its result."""
    completed = subprocess.run(
        [sys.executable, "-m", "cxpulse_cli.bench.producer_baseline"],
        input=json.dumps(asdict(plan)),
        capture_output=True,
        text=True,
        check=False,
        timeout=plan.warmup_s + plan.duration_s + 120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"producer baseline failed ({completed.returncode}): {completed.stderr.strip()}")
    return ProducerResult(**json.loads(completed.stdout))


def _main() -> int:
    result = produce(ProducerPlan(**json.loads(sys.stdin.read())))
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
