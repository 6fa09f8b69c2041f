"""`cxpulse bench --section knee`: the single-event rate at which the collector's p99 passes 100 ms.

One run starts its own broker, Redis and collector on loopback and offers signed single-event
POSTs (each a new survey answer with its own `webhook-id`) at a rate stepped up from 50 req/s
by 50 req/s, each step for a fixed time, until a step's p99 exceeds 100 ms or any request
fails. The knee is the highest offered rate whose step stayed within the limit.

The load is open loop: requests go out on a fixed schedule whether or not earlier ones were
answered, and each latency runs from when the request was due, not when it could be sent. A
closed-loop client waits for answers before sending more, so a slow server slows the client
down and the requests that would have waited are never measured (coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from urllib.parse import urlencode

from cxpulse_cli.bench.collector import own_servers_only
from cxpulse_cli.bench.loadgen import IdleConnections, ProtocolError, Signer, SurveyFactory, percentile
from cxpulse_cli.bench.results import Row, SectionReport, in_scratch_dir
from cxpulse_cli.bench.scorer import BenchFailed
from cxpulse_cli.localstack import running_stack
from cxpulse_cli.webhook_client import encode

TITLE = "Soak and load: the collector's knee"
CHANNEL = "demo"
FIRST_RPS = 50
STEP_RPS = 50
MAX_RPS = 5000
DEFAULT_STEP_S = 15.0
# Each step's first seconds carry the previous step's queue; they are sent but not measured.
SETTLE_S = 2.0
# A fresh collector's first requests pay one-time costs (connections, imports); not measured.
WARMUP_S = 5.0
P99_LIMIT_MS = 100.0
# Past this many unanswered requests the collector is far behind; more connections would only
# measure the client's file descriptors.
MAX_IN_FLIGHT = 512
# A request still unanswered this long after its step ended counts as failed.
STRAGGLER_TIMEOUT_S = 10.0

ROWS = [
    Row("collector_knee_rps", f"Highest offered rate with p99 ≤ {P99_LIMIT_MS:g} ms", "req/s"),
    Row("collector_knee_p99_ms", "p99 at that rate", "ms"),
    Row("collector_knee_p50_ms", "p50 at that rate", "ms"),
    Row("collector_knee_over_rps", "The next step's offered rate", "req/s"),
    Row("collector_knee_over_p99_ms", "p99 at the next step", "ms"),
]


@dataclass(frozen=True)
class Step:
    offered_rps: float
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    failures: dict[str, int] = field(default_factory=dict)
    client_cpu_share: float = 0.0
    load_1m: float = 0.0
    """The machine's 1-minute load average when the step ended."""

    def within(self, p99_limit_ms: float) -> bool:
        return not self.failures and self.p99_ms <= p99_limit_ms


def knee_rps(steps: Sequence[Step], *, p99_limit_ms: float = P99_LIMIT_MS) -> float:
    """The offered rate of the last step before the first one over the limit; 0 when the first is over."""
    knee = 0.0
    for step in steps:
        if not step.within(p99_limit_ms):
            break
        knee = step.offered_rps
    return knee


class OpenLoopClient:
    """Signed single-event POSTs sent on a schedule over a pool of keep-alive connections."""

    def __init__(self, base_url: str, secret: str) -> None:
        self._idle = IdleConnections.for_base_url(base_url)
        self._target = f"/v1/surveys?{urlencode({'channel': CHANNEL})}"
        self._signer = Signer(secret)
        self._factory = SurveyFactory()

    async def step(self, rate_per_s: float, *, measured_s: float) -> Step:
        """Offers `rate_per_s` for the settle time plus `measured_s`; measures the requests due in the latter."""
        loop = asyncio.get_running_loop()
        starts_at = loop.time()
        measured_from = starts_at + SETTLE_S
        ends_at = measured_from + measured_s
        latencies_s: list[float] = []
        failures: Counter[str] = Counter()
        in_flight: set[asyncio.Task[None]] = set()
        cpu_at_start = _cpu_seconds()
        sent = 0
        while (due := starts_at + sent / rate_per_s) < ends_at:
            delay = due - loop.time()
            # Behind schedule, the next request is due already; still yield so answers are read.
            await asyncio.sleep(max(0.0, delay))
            sent += 1
            measured = due >= measured_from
            if len(in_flight) >= MAX_IN_FLIGHT:
                if measured:
                    failures[f"over {MAX_IN_FLIGHT} in flight"] += 1
                continue
            outcomes = (latencies_s, failures) if measured else None
            task = asyncio.create_task(self._post(due, outcomes))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        cpu_used = _cpu_seconds() - cpu_at_start
        if in_flight:
            _, stragglers = await asyncio.wait(set(in_flight), timeout=STRAGGLER_TIMEOUT_S)
            for task in stragglers:
                task.cancel()
            if stragglers:
                failures["no answer"] += len(stragglers)
        latencies_s.sort()
        return Step(
            offered_rps=rate_per_s,
            achieved_rps=len(latencies_s) / measured_s,
            p50_ms=percentile(latencies_s, 0.50) * 1000,
            p99_ms=percentile(latencies_s, 0.99) * 1000,
            failures=dict(failures),
            client_cpu_share=cpu_used / (ends_at - starts_at),
            load_1m=os.getloadavg()[0],
        )

    def close(self) -> None:
        self._idle.close_all()

    async def _post(self, due: float, outcomes: tuple[list[float], Counter[str]] | None) -> None:
        """Posts one new event; records its latency from `due`, or its failure, in `outcomes` if given."""
        connection = self._idle.take()
        body = encode(self._factory.next_survey())
        failure: str | None = None
        try:
            status = await connection.post(self._target, body, self._signer.headers(body))
            self._idle.give_back(connection)
            if status != 202:
                failure = f"HTTP {status}"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as error:
            failure = type(error).__name__
        if outcomes is None:
            return
        latencies_s, failures = outcomes
        if failure is None:
            latencies_s.append(asyncio.get_running_loop().time() - due)
        else:
            failures[failure] += 1


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def step_up(base_url: str, secret: str, *, step_s: float, progress: Callable[[str], None]) -> list[Step]:
    client = OpenLoopClient(base_url, secret)
    steps: list[Step] = []
    try:
        await client.step(FIRST_RPS, measured_s=WARMUP_S)
        for rate in range(FIRST_RPS, MAX_RPS + 1, STEP_RPS):
            step = await client.step(rate, measured_s=step_s)
            steps.append(step)
            progress(describe(step))
            if not step.within(P99_LIMIT_MS):
                break
    finally:
        client.close()
    return steps


def describe(step: Step) -> str:
    failed = f", failed {step.failures}" if step.failures else ""
    return (
        f"offered {step.offered_rps:,.0f} req/s: achieved {step.achieved_rps:,.0f}, "
        f"p50 {step.p50_ms:,.1f} ms, p99 {step.p99_ms:,.1f} ms{failed}"
    )


def run(*, duration_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> SectionReport:
    return in_scratch_dir(
        "knee", lambda run_dir: measure(run_dir, step_s=duration_s or DEFAULT_STEP_S, progress=progress)
    )


def measure(run_dir: Path, *, step_s: float, progress: Callable[[str], None]) -> SectionReport:
    progress("starting broker, Redis and collector")
    with own_servers_only(), running_stack(run_dir, services=("collector",)) as stack:
        progress(
            f"stepping from {FIRST_RPS} req/s by {STEP_RPS} ({SETTLE_S:g} s settle + {step_s:g} s each) "
            f"until p99 > {P99_LIMIT_MS:g} ms or a request fails"
        )
        steps = asyncio.run(
            step_up(
                stack.processes["collector"].address,
                stack.env["DEMO_WEBHOOK_SECRET"],
                step_s=step_s,
                progress=progress,
            )
        )
    if not steps:
        raise BenchFailed("no step ran")
    return report(steps, step_s=step_s)


def report(steps: Sequence[Step], *, step_s: float) -> SectionReport:
    knee = knee_rps(steps)
    at_knee = next((step for step in steps if step.offered_rps == knee), None)
    over = next((step for step in steps if not step.within(P99_LIMIT_MS)), None)
    metrics = {
        "collector_knee_rps": knee,
        "collector_knee_p99_limit_ms": P99_LIMIT_MS,
        "collector_knee_p50_ms": at_knee.p50_ms if at_knee else math.nan,
        "collector_knee_p99_ms": at_knee.p99_ms if at_knee else math.nan,
        "collector_knee_over_rps": over.offered_rps if over else math.nan,
        "collector_knee_over_p99_ms": over.p99_ms if over else math.nan,
        "collector_knee_step_s": step_s,
        "collector_knee_load_average": mean(step.load_1m for step in steps),
    }
    table = "; ".join(
        f"{step.offered_rps:,.0f} → {step.achieved_rps:,.0f} req/s, {step.p50_ms:,.1f}/{step.p99_ms:,.1f} ms"
        + (f" ({sum(step.failures.values())} failed: {step.failures})" if step.failures else "")
        for step in steps
    )
    notes = [
        f"Open loop: single-event POSTs (each a new survey answer, signed, its own `webhook-id`) sent on a "
        f"fixed schedule from {FIRST_RPS} req/s up by {STEP_RPS} req/s (after {WARMUP_S:g} s of warm-up at "
        f"{FIRST_RPS} req/s), each step {SETTLE_S:g} s unmeasured "
        f"then {step_s:g} s measured, stopping at the first step whose p99 exceeded {P99_LIMIT_MS:g} ms or "
        f"which had a failed request (no 202, no answer within {STRAGGLER_TIMEOUT_S:g} s, or more than "
        f"{MAX_IN_FLIGHT} waiting). Latency runs from when each request was due, so a collector that falls "
        "behind is charged for the wait of every request queued behind it (no coordinated omission); a "
        "closed-loop client such as the Collector section's would instead slow down with the server.",
        "Steps (offered → achieved req/s, p50/p99 ms): " + table + ".",
        "Broker, Redis and one collector (one uvicorn process) on loopback; the client runs in the bench "
        f"process and used at most {max(step.client_cpu_share for step in steps):.0%} of a core. The machine's "
        f"{os.cpu_count()} cores were shared with other jobs during the run (1-minute load average at the end of "
        "each step: " + ", ".join(f"{step.load_1m:.1f}" for step in steps) + "), so the knee is where this "
        "machine, so loaded, bent; it moves with the load.",
        "Not part of the default run; re-run with `cxpulse bench --section knee` (`--duration SECONDS` sets "
        "the measured seconds per step).",
    ]
    # NaN is not JSON; a figure that could not be measured is left out (its row shows "-").
    measured = {key: value for key, value in metrics.items() if not math.isnan(value)}
    return SectionReport(name="knee", title=TITLE, metrics=measured, rows=ROWS, notes=notes)
