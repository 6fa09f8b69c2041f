"""The notification outbox in Redis, and the worker that drains it.

Guarantees, each made by one atomic Lua script:
- `enqueue` is idempotent by `idempotency_key`: a key already queued, parked, or delivered in the
  last `remember_delivered_s` (7 days by default) is not queued again.
- Jobs of one (receiver, incident) go out in enqueue order: only the head of that chain is ever
  schedulable, so a PagerDuty `resolve` cannot overtake its `trigger`, even across retries.
- `claim` leases a job to one worker; a lease that expires (crashed or stuck sender) puts the job
  back, and a late `mark_delivered`/`reschedule`/`park` from the old holder is refused once
  another worker holds it.
- Parked jobs keep their reason until an operator re-queues them.

Delivery is at least once to the receiver: a sender that dies after the receiver accepted but
before `mark_delivered` leads to one more attempt after the lease. Every format carries a key
for that case (PagerDuty `dedup_key`, Standard Webhooks `webhook-id`, Alertmanager labels).

All times are Redis's clock (`TIME`), so replicas with skewed clocks agree on what is due.
All keys share one hash tag, so each script touches a single Redis Cluster slot.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import redis
from opentelemetry import propagate, trace
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError

from cxpulse_alerts.notification import Notification
from cxpulse_alerts.receivers.config import ReceiverConfig, SlackReceiver
from cxpulse_alerts.receivers.delivery import (
    Delivered,
    Outcome,
    Parked,
    ReceiverPacer,
    RetryLater,
    RetryPolicy,
    Sender,
    apply_limits,
)
from cxpulse_alerts.receivers.formats import HttpRequest, render

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "cx:{alerts-outbox}:"
REMEMBER_DELIVERED_S = int(timedelta(days=7).total_seconds())
WAKE_SIGNALS_KEPT = 64
UNCONFIGURED_RECEIVER = "_unconfigured"

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# A job is held by `token` when it is pending and leased to that token, or not leased at all
# (its lease expired and nobody claimed it since: the old holder's result is still welcome).
_HELD = """
local function held(job, token)
  local fields = redis.call('HMGET', job, 'state', 'token')
  if fields[1] ~= 'pending' then return false end
  return fields[2] == token or fields[2] == ''
end
"""

# The opening of every script that acts on a job it was handed: ARGV[1] the id, ARGV[2] the token.
_HELD_JOB = (
    _NOW
    + _HELD
    + """
local P = KEYS[1]
local id, token = ARGV[1], ARGV[2]
local job = P .. 'job:' .. id
if not held(job, token) then return 0 end
local now = now_ms()
local function leave_queues()
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'due', id)
  redis.call('SREM', P .. 'pending', id)
end
"""
)

# The next job of a chain becomes schedulable when the one before it leaves (delivered or parked).
_ADVANCE = """
local function advance(P, chain, id, now, wake_kept)
  local chain_key = P .. 'chain:' .. chain
  redis.call('LREM', chain_key, 1, id)
  local head = redis.call('LINDEX', chain_key, 0)
  if head and not redis.call('ZSCORE', P .. 'leases', head) and not redis.call('ZSCORE', P .. 'due', head) then
    redis.call('ZADD', P .. 'due', now, head)
    redis.call('LPUSH', P .. 'wake', '1')
    redis.call('LTRIM', P .. 'wake', 0, wake_kept - 1)
  end
end
"""

# ARGV: id, chain, receiver, notification JSON, wake signals kept.
_ENQUEUE = (
    _NOW
    + """
local P = KEYS[1]
local id = ARGV[1]
local job = P .. 'job:' .. id
if redis.call('EXISTS', job) == 1 or redis.call('EXISTS', P .. 'done:' .. id) == 1 then return 0 end
local now = now_ms()
redis.call('HSET', job, 'notification', ARGV[4], 'receiver', ARGV[3], 'chain', ARGV[2],
  'attempts', 0, 'enqueued_ms', now, 'state', 'pending', 'token', '', 'last_error', '')
redis.call('SADD', P .. 'pending', id)
if redis.call('RPUSH', P .. 'chain:' .. ARGV[2], id) == 1 then
  redis.call('ZADD', P .. 'due', now, id)
  redis.call('LPUSH', P .. 'wake', '1')
  redis.call('LTRIM', P .. 'wake', 0, tonumber(ARGV[5]) - 1)
end
return 1
"""
)

# ARGV: limit, lease ms, token. Returns {now, next_ms or -1, then 6 items per job:
# id, notification, receiver, enqueued_ms, attempts, last_error}.
_CLAIM = (
    _NOW
    + """
local P = KEYS[1]
local limit, lease_ms, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now)) do
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HSET', P .. 'job:' .. id, 'token', '')
  redis.call('ZADD', P .. 'due', now, id)
end
local out = {now, -1}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', now, 'LIMIT', 0, limit)) do
  local job = P .. 'job:' .. id
  redis.call('ZREM', P .. 'due', id)
  local state = redis.call('HGET', job, 'state')
  if state == 'pending' then
    local attempts = redis.call('HINCRBY', job, 'attempts', 1)
    redis.call('HSET', job, 'token', token)
    redis.call('ZADD', P .. 'leases', now + lease_ms, id)
    local f = redis.call('HMGET', job, 'notification', 'receiver', 'enqueued_ms', 'last_error')
    for _, value in ipairs({id, f[1], f[2], f[3], attempts, f[4]}) do table.insert(out, value) end
  end
end
local next_due = redis.call('ZRANGE', P .. 'due', 0, 0, 'WITHSCORES')
local next_lease = redis.call('ZRANGE', P .. 'leases', 0, 0, 'WITHSCORES')
local next_ms = -1
if next_due[2] then next_ms = tonumber(next_due[2]) end
if next_lease[2] and (next_ms < 0 or tonumber(next_lease[2]) < next_ms) then next_ms = tonumber(next_lease[2]) end
out[2] = next_ms
return out
"""
)

# ARGV: id, token, remember seconds, wake signals kept.
_DELIVERED = (
    _HELD_JOB
    + _ADVANCE
    + """
local chain = redis.call('HGET', job, 'chain')
redis.call('DEL', job)
leave_queues()
redis.call('SET', P .. 'done:' .. id, now, 'EX', tonumber(ARGV[3]))
advance(P, chain, id, now, tonumber(ARGV[4]))
return 1
"""
)

# ARGV: id, token, delay ms, reason, count attempt (1/0).
_RESCHEDULE = (
    _HELD_JOB
    + """
redis.call('ZREM', P .. 'leases', id)
redis.call('HSET', job, 'token', '')
if ARGV[4] ~= '' then redis.call('HSET', job, 'last_error', ARGV[4]) end
if ARGV[5] == '0' then redis.call('HINCRBY', job, 'attempts', -1) end
redis.call('ZADD', P .. 'due', now + tonumber(ARGV[3]), id)
return 1
"""
)

# ARGV: id, token, reason, wake signals kept.
_PARK = (
    _HELD_JOB
    + _ADVANCE
    + """
redis.call('HSET', job, 'state', 'parked', 'token', '', 'parked_reason', ARGV[3], 'parked_ms', now)
leave_queues()
redis.call('ZADD', P .. 'parked', now, id)
advance(P, redis.call('HGET', job, 'chain'), id, now, tonumber(ARGV[4]))
return 1
"""
)

# ARGV: id, wake signals kept. The job joins the end of its chain with a fresh attempt budget.
_REQUEUE = (
    _NOW
    + """
local P = KEYS[1]
local id = ARGV[1]
local job = P .. 'job:' .. id
if redis.call('HGET', job, 'state') ~= 'parked' then return 0 end
local now = now_ms()
redis.call('HSET', job, 'state', 'pending', 'attempts', 0, 'enqueued_ms', now, 'token', '')
redis.call('HDEL', job, 'parked_reason', 'parked_ms')
redis.call('ZREM', P .. 'parked', id)
redis.call('SADD', P .. 'pending', id)
local chain = redis.call('HGET', job, 'chain')
if redis.call('RPUSH', P .. 'chain:' .. chain, id) == 1 then
  redis.call('ZADD', P .. 'due', now, id)
  redis.call('LPUSH', P .. 'wake', '1')
  redis.call('LTRIM', P .. 'wake', 0, tonumber(ARGV[2]) - 1)
end
return 1
"""
)


@dataclass(frozen=True)
class ClaimedJob:
    idempotency_key: str
    receiver: str
    notification_json: str
    attempts: int
    """Including this one."""
    enqueued_ms: int
    claimed_ms: int
    token: str
    last_error: str

    @property
    def age_s(self) -> float:
        return max(0.0, (self.claimed_ms - self.enqueued_ms) / 1000.0)


@dataclass(frozen=True)
class Claim:
    jobs: list[ClaimedJob]
    next_in_s: float | None
    """Seconds until the next scheduled job or lease expiry, as of the claim; None if nothing is queued."""


@dataclass(frozen=True)
class ParkedJob:
    idempotency_key: str
    receiver: str
    reason: str
    parked_at: datetime
    attempts: int
    notification_json: str


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    parked: int


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


class Outbox:
    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        remember_delivered_s: int = REMEMBER_DELIVERED_S,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._remember_delivered_s = remember_delivered_s
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
        self._delivered = client.register_script(_DELIVERED)
        self._reschedule = client.register_script(_RESCHEDULE)
        self._park = client.register_script(_PARK)
        self._requeue = client.register_script(_REQUEUE)

    @property
    def prefix(self) -> str:
        return self._prefix

    def enqueue(self, notification: Notification) -> bool:
        """True if queued now; False if this idempotency key was already queued, parked or delivered."""
        chain = f"{notification.receiver}:{notification.incident_id}"
        added = self._enqueue(
            keys=[self._prefix],
            args=[
                notification.idempotency_key,
                chain,
                notification.receiver,
                notification.model_dump_json(),
                WAKE_SIGNALS_KEPT,
            ],
        )
        return bool(added)

    def claim(self, *, limit: int = 1, lease_s: float = 30.0) -> Claim:
        token = uuid.uuid4().hex
        reply = self._claim(keys=[self._prefix], args=[limit, max(1, round(lease_s * 1000)), token])
        now_ms, next_ms = int(reply[0]), int(reply[1])
        jobs = []
        for index in range(2, len(reply), 6):
            key, payload, receiver, enqueued, attempts, last_error = reply[index : index + 6]
            jobs.append(
                ClaimedJob(
                    idempotency_key=_text(key),
                    receiver=_text(receiver),
                    notification_json=_text(payload),
                    attempts=int(attempts),
                    enqueued_ms=int(enqueued),
                    claimed_ms=now_ms,
                    token=token,
                    last_error=_text(last_error),
                )
            )
        next_in_s = None if next_ms < 0 else max(0.0, (next_ms - now_ms) / 1000.0)
        return Claim(jobs=jobs, next_in_s=next_in_s)

    def mark_delivered(self, job: ClaimedJob) -> bool:
        """False if another worker holds the job now (this lease expired and it was claimed again)."""
        args: list[str | int] = [job.idempotency_key, job.token, self._remember_delivered_s, WAKE_SIGNALS_KEPT]
        return bool(self._delivered(keys=[self._prefix], args=args))

    def reschedule(self, job: ClaimedJob, *, after_s: float, reason: str = "", count_attempt: bool = True) -> bool:
        """Back to the due set `after_s` from now; `count_attempt=False` when nothing was sent (pacing)."""
        delay_ms = max(0, round(after_s * 1000))
        args: list[str | int] = [job.idempotency_key, job.token, delay_ms, reason, "1" if count_attempt else "0"]
        return bool(self._reschedule(keys=[self._prefix], args=args))

    def park(self, job: ClaimedJob, reason: str) -> bool:
        args: list[str | int] = [job.idempotency_key, job.token, reason, WAKE_SIGNALS_KEPT]
        return bool(self._park(keys=[self._prefix], args=args))

    def requeue(self, idempotency_key: str) -> bool:
        """Operator action: a parked job gets a fresh attempt budget. False if it is not parked."""
        return bool(self._requeue(keys=[self._prefix], args=[idempotency_key, WAKE_SIGNALS_KEPT]))

    def parked(self, *, limit: int = 100) -> list[ParkedJob]:
        """Parked jobs, oldest first, with the reason each was parked."""
        keys = [_text(member) for member in self._client.zrange(self._prefix + "parked", 0, limit - 1)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(
                self._prefix + "job:" + key, "receiver", "parked_reason", "parked_ms", "attempts", "notification"
            )
        found = []
        for key, fields in zip(keys, pipe.execute(), strict=True):
            receiver, reason, parked_ms, attempts, payload = (_text(field) for field in fields)
            if not parked_ms:
                continue
            found.append(
                ParkedJob(
                    idempotency_key=key,
                    receiver=receiver,
                    reason=reason,
                    parked_at=datetime.fromtimestamp(int(parked_ms) / 1000.0, tz=UTC),
                    attempts=int(attempts or 0),
                    notification_json=payload,
                )
            )
        return found

    def is_delivered(self, idempotency_key: str) -> bool:
        return bool(self._client.exists(self._prefix + "done:" + idempotency_key))

    def counts(self) -> OutboxCounts:
        pipe = self._client.pipeline(transaction=False)
        pipe.scard(self._prefix + "pending")
        pipe.zcard(self._prefix + "parked")
        pending, parked = pipe.execute()
        return OutboxCounts(pending=int(pending), parked=int(parked))

    def wait_for_work(self, timeout_s: float) -> bool:
        """Blocks until an enqueue signals new work or `timeout_s` passes; True if signalled.

        Keep `timeout_s` below the client's socket timeout.
        """
        if timeout_s <= 0:
            return False
        return self._client.blpop([self._prefix + "wake"], timeout=max(0.01, timeout_s)) is not None


class _OutboxGauges(Collector):
    """Read from Redis at scrape time, so every replica exports the outbox's true state."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self._outbox.counts()
        except redis.RedisError:
            logger.warning("outbox gauges: Redis unavailable during scrape")
            return
        due = GaugeMetricFamily("cx_alerts_outbox_due", "Notifications queued and not yet delivered nor parked")
        due.add_metric([], counts.pending)
        parked = GaugeMetricFamily("cx_alerts_outbox_parked", "Notifications parked until an operator re-queues them")
        parked.add_metric([], counts.parked)
        yield due
        yield parked


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry, outbox: Outbox, receiver_names: Iterable[str]) -> None:
        self.notifications = Counter(
            "cx_alerts_notifications",
            "Notification attempts by outcome: delivered, retried or parked",
            ["receiver", "result"],
            registry=registry,
        )
        self.attempt_seconds = Histogram(
            "cx_alerts_notification_attempt_seconds",
            "Duration of one delivery attempt",
            ["receiver"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        for name in (*receiver_names, UNCONFIGURED_RECEIVER):
            for result in ("delivered", "retried", "parked"):
                self.notifications.labels(name, result)
        registry.register(_OutboxGauges(outbox))


class DeliveryWorker:
    """Threads looping: claim due jobs, render, send, classify, mark.

    Idle threads block on the outbox's wake list, so a new job leaves within milliseconds, and
    wake on their own for the next scheduled retry or lease expiry.
    """

    def __init__(
        self,
        outbox: Outbox,
        receivers: Iterable[ReceiverConfig],
        *,
        pacer: ReceiverPacer,
        registry: CollectorRegistry,
        sender: Sender | None = None,
        policy: RetryPolicy | None = None,
        threads: int = 4,
        lease_s: float = 30.0,
        idle_wait_s: float = 0.5,
        name: str = "alerts-delivery",
        tracer: Tracer | None = None,
    ) -> None:
        self._tracer = tracer or trace.get_tracer(__name__)
        self._outbox = outbox
        self._receivers: Mapping[str, ReceiverConfig] = {receiver.name: receiver for receiver in receivers}
        self._pacer = pacer
        self._policy = policy or (sender.policy if sender else RetryPolicy())
        self._sender = sender or Sender(policy=self._policy)
        self._owns_sender = sender is None
        if lease_s <= 2 * self._sender.timeout_s:
            raise ValueError("lease_s must exceed twice the sender's timeout, or a slow send loses its lease")
        self._lease_s = lease_s
        self._idle_wait_s = idle_wait_s
        self._rng = random.Random()
        self.metrics = DeliveryMetrics(registry, outbox, self._receivers)
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True) for index in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._owns_sender:
            self._sender.close()

    def alive(self) -> bool:
        return not self._stopping.is_set() and all(thread.is_alive() for thread in self._threads)

    def run_once(self) -> Claim:
        """Claims and processes at most one job; the loop and tests drive it."""
        claim = self._outbox.claim(limit=1, lease_s=self._lease_s)
        for job in claim.jobs:
            self._process(job)
        return claim

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claim = self.run_once()
                if claim.jobs:
                    continue
                wait = self._idle_wait_s if claim.next_in_s is None else min(self._idle_wait_s, claim.next_in_s)
                self._outbox.wait_for_work(wait)
            except redis.RedisError:
                logger.exception("outbox: Redis error; retrying")
                self._stopping.wait(1.0)
            except Exception:
                # The thread must survive; an unfinished job's lease expires and it is retried.
                logger.exception("outbox: delivery loop failed; continuing")
                self._stopping.wait(1.0)

    def _process(self, job: ClaimedJob) -> None:
        receiver = self._receivers.get(job.receiver)
        if receiver is None:
            self._finish(job, UNCONFIGURED_RECEIVER, Parked(f"receiver {job.receiver!r} is not configured"))
            return
        try:
            notification = Notification.model_validate_json(job.notification_json)
        except ValidationError as exc:
            self._finish(job, receiver.name, Parked(f"unreadable notification: {exc.error_count()} errors"))
            return
        if job.age_s > self._policy.max_age_s:
            self._finish(job, receiver.name, Parked(f"not sent: older than {self._policy.max_age_s:.0f}s"))
            return
        if job.attempts > self._policy.max_attempts:
            # Only reachable when earlier holders never finished (crashed mid-send): stop the loop.
            reason = f"gave up after {job.attempts - 1} unfinished attempts; last: {job.last_error or 'none'}"
            self._finish(job, receiver.name, Parked(reason))
            return
        min_interval_s = 1.0 / receiver.max_per_second if isinstance(receiver, SlackReceiver) else 0.0
        wait_s = self._pacer.acquire(receiver.name, min_interval_s=min_interval_s)
        if wait_s > 0:
            self._outbox.reschedule(job, after_s=wait_s, reason=job.last_error, count_attempt=False)
            return
        started = time.perf_counter()
        parent = propagate.extract({"traceparent": notification.traceparent} if notification.traceparent else {})
        with self._tracer.start_as_current_span(
            f"notify {receiver.type}",
            context=parent,
            kind=trace.SpanKind.CLIENT,
            attributes={
                "cx.incident.id": notification.incident_id,
                "cx.receiver": receiver.name,
                "cx.notification.action": notification.action,
            },
        ):
            outcome = self._render_and_send(notification, receiver, job)
        self.metrics.attempt_seconds.labels(receiver.name).observe(time.perf_counter() - started)
        self._finish(
            job, receiver.name, apply_limits(outcome, attempts=job.attempts, age_s=job.age_s, policy=self._policy)
        )

    def _render_and_send(self, notification: Notification, receiver: ReceiverConfig, job: ClaimedJob) -> Outcome:
        try:
            rendered = render(notification, receiver, now=datetime.now(UTC))
            if isinstance(rendered, HttpRequest):
                # The receiver sees the same trace as the webhook that tipped the incident.
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                rendered = replace(rendered, headers={**rendered.headers, **carrier})
            return self._sender.send(rendered, attempt=job.attempts)
        except Exception as exc:
            # A bug or an unexpected input, not the receiver: retry with backoff, park in the end.
            logger.exception("outbox: attempt %s for receiver %s failed unexpectedly", job.attempts, receiver.name)
            return RetryLater(f"internal error: {type(exc).__name__}", self._policy.backoff_s(job.attempts, self._rng))

    def _finish(self, job: ClaimedJob, receiver_label: str, outcome: Outcome) -> None:
        if isinstance(outcome, Delivered):
            accepted = self._outbox.mark_delivered(job)
            result = "delivered"
        elif isinstance(outcome, RetryLater):
            if outcome.hold_receiver:
                self._pacer.hold(job.receiver, outcome.after_s)
            accepted = self._outbox.reschedule(job, after_s=outcome.after_s, reason=outcome.reason)
            result = "retried"
            logger.info(
                "outbox: %s to %s retried in %.1fs (attempt %s): %s",
                job.idempotency_key,
                receiver_label,
                outcome.after_s,
                job.attempts,
                outcome.reason,
            )
        else:
            accepted = self._outbox.park(job, outcome.reason)
            result = "parked"
            logger.warning("outbox: %s to %s parked: %s", job.idempotency_key, receiver_label, outcome.reason)
        if not accepted:
            logger.warning("outbox: lease on %s lost before its %s was recorded", job.idempotency_key, result)
        self.metrics.notifications.labels(receiver_label, result).inc()
