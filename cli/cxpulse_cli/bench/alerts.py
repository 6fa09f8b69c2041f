"""`cxpulse bench --section alerts`: from a crisis mention's 202 to the owner's notification.

One run starts its own broker, Redis, collector, scorer and alerts on loopback, with an
ownership file that routes every incident (grouped by brand, `group_wait: 0s`) to a webhook
receiver served by this process, which timestamps each arrival. While the collector takes a
steady background load of ordinary survey answers, the bench posts, one at a time, a negative
mention by an author with millions of followers (an influencer detractor: a signal the moment it
is scored), each for a brand never seen before, so each opens an incident of its own. The
latency is from the collector's 202 for that mention to the first notification naming its brand.
Goal: p99 under 2 s.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from cxpulse_cli.bench.collector import own_servers_only
from cxpulse_cli.bench.loadgen import percentile
from cxpulse_cli.bench.results import Row, SectionReport, in_scratch_dir
from cxpulse_cli.bench.scorer import BenchFailed, FeedResult, PacedFeeder
from cxpulse_cli.localstack import LOOPBACK, new_webhook_secret, running_stack
from cxpulse_cli.webhook_client import encode, signed_headers

TITLE = "Alerts"
CHANNEL = "demo"
TIPS = 15
# The tips are spread over this long so that they sample the background load, not one moment.
DEFAULT_DURATION_S = 20.0
MIN_TIP_SPACING_S = 1.0
BACKGROUND_EVENTS_PER_S = 500
BACKGROUND_BATCH_EVENTS = 25
WARMUP_S = 3.0
NOTIFICATION_TIMEOUT_S = 30.0
LATENCY_GOAL_MS = 2000.0
SIGNING_KEY_VARIABLE = "CXPULSE_BENCH_ALERTS_WEBHOOK_SECRET"
INFLUENCER_FOLLOWERS = 2_500_000
TIP_TEXT = "Baggage handlers destroyed my guitar. Worst airline, never again."

ROWS = [
    Row("alert_latency_p50_ms", "Mention's 202 to notification, p50", "ms"),
    Row(
        "alert_latency_p99_ms",
        "Mention's 202 to notification, p99",
        "ms",
        goal="alert_latency_goal_ms",
        higher_is_better=False,
    ),
]


@dataclass(frozen=True)
class Arrival:
    received_at: float
    """time.monotonic() when the request had been read."""
    body: bytes


class NotificationSink:
    """A loopback HTTP server that answers 200 to everything and remembers when each request arrived."""

    def __init__(self) -> None:
        self._arrivals: list[Arrival] = []
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="notification-sink", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> NotificationSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def first_naming(self, text: str, *, timeout_s: float) -> Arrival | None:
        """The first request whose body contains `text`, waiting for it up to `timeout_s`."""
        needle = text.encode()
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while True:
                found = next((arrival for arrival in self._arrivals if needle in arrival.body), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._arrived.wait(remaining)

    def _record(self, arrival: Arrival) -> None:
        with self._arrived:
            self._arrivals.append(arrival)
            self._arrived.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sink._record(Arrival(received_at=time.monotonic(), body=body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return _Handler


def ownership_yaml(receiver_url: str) -> str:
    """Every incident to one webhook, grouped by brand, notified without waiting."""
    return f"""receivers:
  - name: bench-webhook
    type: webhook
    url: "{receiver_url}/notifications"
    secret: "${{{SIGNING_KEY_VARIABLE}}}"
teams:
  - {{name: bench, receivers: [bench-webhook]}}
route:
  team: bench
  group_by: [brand]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
"""


def tip_mention(brand: str) -> dict[str, Any]:
    handle = f"famous_{uuid.uuid4().hex[:8]}"
    return {
        "mention_id": f"bench-tip-{uuid.uuid4().hex}",
        "brand": brand,
        "platform": "x",
        "author": {"handle": handle, "followers": INFLUENCER_FOLLOWERS},
        "text": TIP_TEXT,
        "url": f"https://x.com/{handle}/status/{uuid.uuid4().int % 10**18}",
        "engagement": {"likes": 4_000, "shares": 90, "replies": 300},
        "occurred_at": datetime.now(UTC).isoformat(),
    }


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in `os.environ` (the stack's services inherit it), the previous values back afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(*, duration_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> SectionReport:
    return in_scratch_dir(
        "alerts", lambda run_dir: measure(run_dir, duration_s=duration_s or DEFAULT_DURATION_S, progress=progress)
    )


def measure(run_dir: Path, *, duration_s: float, progress: Callable[[str], None]) -> SectionReport:
    tip_spacing_s = max(MIN_TIP_SPACING_S, duration_s / TIPS)
    with NotificationSink() as sink:
        ownership_file = run_dir / "ownership.yaml"
        ownership_file.write_text(ownership_yaml(sink.url))
        settings = {"OWNERSHIP_FILE": str(ownership_file), SIGNING_KEY_VARIABLE: new_webhook_secret()}
        progress("starting broker, Redis, collector, scorer and alerts")
        with own_servers_only(), environment(settings), running_stack(run_dir) as stack:
            collector_url = stack.processes["collector"].address
            secret = stack.env["DEMO_WEBHOOK_SECRET"]
            progress(
                f"background load {BACKGROUND_EVENTS_PER_S} events/s ({WARMUP_S:g} s warm-up), then {TIPS} "
                f"crisis mentions {tip_spacing_s:.1f} s apart"
            )
            feeder = PacedFeeder(
                base_url=collector_url,
                secret=secret,
                events_per_batch=BACKGROUND_BATCH_EVENTS,
                events_per_s=BACKGROUND_EVENTS_PER_S,
            )
            with feeder, httpx.Client(base_url=collector_url, timeout=10) as client:
                time.sleep(WARMUP_S)
                # The first incident of a fresh process pays one-time costs (connections, script loads);
                # it is measured and reported apart, like the warm-up of every other section.
                cold_ms = tip_latency_ms(client, sink, secret, spacing_s=tip_spacing_s, tip=-1)
                latencies_ms = [
                    tip_latency_ms(client, sink, secret, spacing_s=tip_spacing_s, tip=tip) for tip in range(TIPS)
                ]
                feed = feeder.stop()
    if feed.failures:
        raise BenchFailed(f"background load: {feed.events} events accepted, failures: {feed.failures}")
    return report(latencies_ms, feed=feed, tip_spacing_s=tip_spacing_s, cold_ms=cold_ms)


def tip_latency_ms(client: httpx.Client, sink: NotificationSink, secret: str, *, spacing_s: float, tip: int) -> float:
    brand = f"bench-crisis-{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    body = encode(tip_mention(brand))
    response = client.post(
        "/v1/mentions", params={"channel": CHANNEL}, content=body, headers=signed_headers(secret, body)
    )
    accepted_at = time.monotonic()
    if response.status_code != 202:
        raise BenchFailed(f"crisis mention {tip + 1}: the collector answered {response.status_code}: {response.text}")
    arrival = sink.first_naming(brand, timeout_s=NOTIFICATION_TIMEOUT_S)
    if arrival is None:
        raise BenchFailed(f"crisis mention {tip + 1} ({brand}): no notification in {NOTIFICATION_TIMEOUT_S:g} s")
    time.sleep(max(0.0, started + spacing_s - time.monotonic()))
    return (arrival.received_at - accepted_at) * 1000


def report(latencies_ms: list[float], *, feed: FeedResult, tip_spacing_s: float, cold_ms: float) -> SectionReport:
    """`latencies_ms` in the order the mentions were posted, which the notes show: a slow first one is warm-up."""
    in_order = ", ".join(f"{latency:,.0f}" for latency in latencies_ms)
    latencies_ms = sorted(latencies_ms)
    metrics = {
        "alert_latency_p50_ms": percentile(latencies_ms, 0.50),
        "alert_latency_p99_ms": percentile(latencies_ms, 0.99),
        "alert_latency_max_ms": latencies_ms[-1],
        "alert_latency_goal_ms": LATENCY_GOAL_MS,
        "alert_latency_cold_ms": cold_ms,
    }
    notes = [
        f"{len(latencies_ms)} crisis mentions, {tip_spacing_s:.1f} s apart, each a negative mention by an author "
        f"with {INFLUENCER_FOLLOWERS:,} followers for a brand of its own (so each opens its own incident), "
        "posted to the collector one at a time; latency runs from the collector's 202 to the arrival of the "
        "first webhook notification naming the brand at a loopback receiver in the bench process. The route "
        "has `group_wait: 0s`, so no grouping delay is included. With this few samples p99 (nearest rank) "
        f"is the slowest of them. In posting order (ms): {in_order}. Before them, one warm-up mention opened the "
        f"first incident of the fresh processes (one-time costs) in {cold_ms:,.0f} ms; it is not in the percentiles.",
        f"Background: the collector took {BACKGROUND_EVENTS_PER_S} survey answers/s in signed batches of "
        f"{BACKGROUND_BATCH_EVENTS} (open loop) throughout, {feed.events:,} in all; batches skipped because "
        f"the collector fell behind: {feed.late_batches}.",
    ]
    return SectionReport(name="alerts", title=TITLE, metrics=metrics, rows=ROWS, notes=notes)
