"""A real HTTP server on loopback whose answers a test programs: a receiver that fails on cue.

Each request is recorded when it arrives (before any programmed delay), with the reply it got,
so a test can assert exactly what a notification receiver saw and when.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cxpulse_alerts.notification import Evidence, Notification, NotificationAction, SampleMention
from cxpulse_cli.localstack import LOOPBACK


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    """Sleep before answering: longer than the client's timeout simulates a hung receiver."""


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Names lower-cased."""
    body: bytes
    received_at: float
    """time.monotonic() on arrival."""
    reply: Reply

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def succeeded(self) -> bool:
        return 200 <= self.reply.status < 300


Handler = Callable[[ReceivedRequest], Reply]


class HttpReceiver:
    """Programmable answers, in order of precedence: `reply_with` queue, `handler`, `default`."""

    def __init__(self) -> None:
        self.default = Reply()
        self.handler: Handler | None = None
        self._queued: list[Reply] = []
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reply_with(self, *replies: Reply) -> None:
        with self._lock:
            self._queued.extend(replies)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def succeeded(self) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.succeeded]

    def wait_for(self, condition: Callable[[list[ReceivedRequest]], bool], *, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not condition(list(self._requests)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def wait_for_successes(self, count: int, *, timeout_s: float = 10.0) -> bool:
        return self.wait_for(lambda requests: sum(r.succeeded for r in requests) >= count, timeout_s=timeout_s)

    def _choose(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            if self._queued:
                return self._queued.pop(0)
        if self.handler is not None:
            return self.handler(request)
        return self.default

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                arrived = ReceivedRequest(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                    reply=Reply(),
                )
                reply = receiver._choose(arrived)
                receiver._record(
                    ReceivedRequest(arrived.method, arrived.path, arrived.headers, body, arrived.received_at, reply)
                )
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                with contextlib.suppress(OSError):
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return _Handler


def sample_notification(
    *,
    key: str = "inc-1:r1:ops",
    receiver: str = "ops",
    incident_id: str = "inc-1",
    fingerprint: str = "fp-acme-air-baggage",
    action: NotificationAction = "trigger",
    severity: int = 4,
    occurred_at: datetime | None = None,
    **overrides: Any,
) -> Notification:
    """A realistic notification for receiver tests: a baggage crisis at a fictional airline."""
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "receiver": receiver,
        "incident_id": incident_id,
        "fingerprint": fingerprint,
        "action": action,
        "brand": "acme-air",
        "severity": severity,
        "crisis_risk": 0.82,
        "title": "Baggage complaints spiking at LHR",
        "summary": "Negative mentions about lost bags are 6x the baseline over the last 30 minutes.",
        "teams": ["ground-ops", "social-care"],
        "evidence": Evidence(
            baseline=12.0,
            observed=74.0,
            detectors=["volume_zscore", "sentiment_shift"],
            top_terms=["lost bag", "LHR", "no update"],
            sample_mentions=[
                SampleMention(
                    text="Third day without my bag <@acmeair> & nobody answers",
                    url="https://x.com/traveller/status/1",
                    author="traveller",
                    reach=120_000,
                ),
                SampleMention(
                    text="Carousel 5 has been empty for 2 hours",
                    url="https://x.com/flyer/status/2",
                    author="flyer",
                    reach=800,
                ),
            ],
            total_reach=120_800,
            stages=["baggage"],
            topics=["lost_baggage"],
        ),
        "incident_url": "https://cxpulse.example/incidents/inc-1",
        "occurred_at": occurred_at or datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return Notification(**fields)
