"""Sends one rendered notification and classifies what happened: delivered, retry later, or park.

The classification follows the receivers' own documentation: Standard Webhooks (2xx success,
410 Gone means stop sending, 429/5xx throttle and honour `Retry-After`), PagerDuty Events API v2
(202 accepted, 400 do not retry, 429 and 5xx retry), Slack incoming webhooks (400/403/404 are
configuration errors, 410 `channel_is_archived`). Redirects are not followed: a moved endpoint is
a configuration change, not something to chase at every attempt.

Sending is synchronous (httpx): delivery runs on worker threads, never on an event loop.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import redis

from cxpulse_alerts.receivers.formats import FileAppend, HttpRequest, Rendered

RESPONSE_SNIPPET_BYTES = 4096
REASON_SNIPPET_CHARS = 200


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; and when to give up (park) instead.

    Each delay is `min(max_delay_s, base_delay_s * multiplier ** (attempt - 1))`, of which the
    `jitter` fraction is drawn at random so replicas retrying together spread out.
    """

    base_delay_s: float = 1.0
    multiplier: float = 2.0
    max_delay_s: float = 300.0
    jitter: float = 0.5
    max_attempts: int = 60
    max_age_s: float = 24 * 3600.0
    max_retry_after_s: float = 3600.0

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * self.multiplier ** max(0, attempt - 1))
        return ceiling * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True)
class Delivered:
    status: int | None = None


@dataclass(frozen=True)
class RetryLater:
    reason: str
    after_s: float
    hold_receiver: bool = False
    """True when the receiver itself asked to slow down (429): every job for it waits."""


@dataclass(frozen=True)
class Parked:
    reason: str


Outcome = Delivered | RetryLater | Parked


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """`Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _snippet(body: str) -> str:
    flat = " ".join(body.split())
    return flat[:REASON_SNIPPET_CHARS]


def classify_response(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
    target: str = "receiver",
    now: datetime | None = None,
) -> Outcome:
    """`headers` must look names up case-insensitively (httpx.Headers does)."""
    if 200 <= status < 300:
        return Delivered(status)
    reason = f"HTTP {status} from {target}"
    detail = _snippet(body)
    if detail:
        reason = f"{reason}: {detail}"
    if status == 410:
        return Parked(f"{reason} (gone: the receiver asked to stop sending)")
    if status == 429 or status == 408 or status >= 500:
        asked = retry_after_seconds(headers.get("retry-after"), now=now or datetime.now(UTC))
        if asked is not None:
            return RetryLater(reason, min(asked, policy.max_retry_after_s), hold_receiver=status == 429)
        return RetryLater(reason, policy.backoff_s(attempt, rng), hold_receiver=status == 429)
    if 300 <= status < 400:
        return Parked(f"{reason} (redirect not followed: update the receiver's URL)")
    return Parked(reason)


def classify_error(exc: Exception, *, attempt: int, policy: RetryPolicy, rng: random.Random) -> Outcome:
    """Transport failures are transient; a malformed request or URL never gets better by retrying."""
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Parked(reason)
    if isinstance(exc, httpx.TransportError | OSError):
        return RetryLater(reason, policy.backoff_s(attempt, rng))
    return Parked(reason)


def apply_limits(outcome: Outcome, *, attempts: int, age_s: float, policy: RetryPolicy) -> Outcome:
    """Turns a retry into a park once the job has had enough attempts or would retry past its age."""
    if not isinstance(outcome, RetryLater):
        return outcome
    if attempts >= policy.max_attempts:
        return Parked(f"gave up after {attempts} attempts; last: {outcome.reason}")
    if age_s + outcome.after_s > policy.max_age_s:
        return Parked(
            f"gave up: next attempt would be past the {policy.max_age_s:.0f}s age limit; last: {outcome.reason}"
        )
    return outcome


class Sender:
    """Performs one attempt. Never raises for a receiver's failure: it returns the outcome."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self._rng = random.Random(seed)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            follow_redirects=False,
            transport=transport,
        )
        self._file_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def send(self, rendered: Rendered, *, attempt: int) -> Outcome:
        if isinstance(rendered, FileAppend):
            return self._append(rendered, attempt=attempt)
        return self._post(rendered, attempt=attempt)

    def _post(self, request: HttpRequest, *, attempt: int) -> Outcome:
        try:
            with self._client.stream(
                request.method, request.url, headers=request.headers, content=request.body
            ) as response:
                body = _read_limited(response)
                return classify_response(
                    response.status_code,
                    response.headers,
                    body,
                    attempt=attempt,
                    policy=self.policy,
                    rng=self._rng,
                    target=request.display_url,
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _without_url(classify_error(exc, attempt=attempt, policy=self.policy, rng=self._rng), request.url)

    def _append(self, append: FileAppend, *, attempt: int) -> Outcome:
        try:
            path = Path(append.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # One write() on an O_APPEND descriptor: lines from several threads never interleave.
            with self._file_lock:
                descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(descriptor, append.line)
                finally:
                    os.close(descriptor)
        except OSError as exc:
            return classify_error(exc, attempt=attempt, policy=self.policy, rng=self._rng)
        return Delivered()


def _read_limited(response: httpx.Response) -> str:
    collected = bytearray()
    for chunk in response.iter_bytes():
        collected.extend(chunk)
        if len(collected) >= RESPONSE_SNIPPET_BYTES:
            break
    return bytes(collected[:RESPONSE_SNIPPET_BYTES]).decode("utf-8", errors="replace")


def _without_url(outcome: Outcome, url: str) -> Outcome:
    """Slack's webhook URL is its credential: an error message must not carry it into a reason."""
    if isinstance(outcome, RetryLater) and url in outcome.reason:
        return RetryLater(outcome.reason.replace(url, "<url>"), outcome.after_s, outcome.hold_receiver)
    if isinstance(outcome, Parked) and url in outcome.reason:
        return Parked(outcome.reason.replace(url, "<url>"))
    return outcome


# Returns 0 when the caller may send now (and takes the slot), else the milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local not_before = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < not_before then return not_before - now end
local interval = tonumber(ARGV[1])
if interval > 0 then redis.call('SET', KEYS[1], now + interval, 'PX', interval + 1000) end
return 0
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000) end
return 1
"""


class ReceiverPacer:
    """Per-receiver "not before" time in Redis, shared by every alerts replica.

    Slack counts its one message per second per webhook, whoever sends; a receiver answering 429
    holds all jobs for it, not only the one that was refused. Times come from Redis's clock so
    replicas with skewed clocks agree.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "cx:alerts:pace:") -> None:
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._hold = client.register_script(_HOLD)

    def acquire(self, receiver: str, *, min_interval_s: float) -> float:
        """0 if a send may start now (the slot is taken), else the seconds to wait first."""
        wait_ms = self._acquire(keys=[self._prefix + receiver], args=[max(0, round(min_interval_s * 1000))])
        return int(wait_ms) / 1000.0

    def hold(self, receiver: str, seconds: float) -> None:
        if seconds > 0:
            self._hold(keys=[self._prefix + receiver], args=[max(1, round(seconds * 1000))])
