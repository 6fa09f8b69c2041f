"""The outbox against a real Redis and a real loopback HTTP receiver that fails on cue.

Every test asserts what the receiver actually got: which requests, in which order, how far apart.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import HttpUrl, SecretStr
from standardwebhooks import Webhook

from cxpulse_alerts.notification import NotificationAction
from cxpulse_alerts.receivers.config import (
    LogReceiver,
    PagerDutyReceiver,
    ReceiverConfig,
    SlackReceiver,
    WebhookReceiver,
)
from cxpulse_alerts.receivers.delivery import ReceiverPacer, RetryPolicy, Sender
from cxpulse_alerts.receivers.outbox import DeliveryWorker, Outbox
from cxpulse_shared.redis import make_redis
from cxpulse_shared.settings import RedisSettings
from tests.support.http_receiver import HttpReceiver, ReceivedRequest, Reply, sample_notification

pytestmark = pytest.mark.integration

FAST_RETRIES = RetryPolicy(base_delay_s=0.05, multiplier=2.0, max_delay_s=0.2, jitter=0.5, max_attempts=100)
SENDER_TIMEOUT_S = 0.3
LEASE_S = 1.0


@pytest.fixture
def client(redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    client = make_redis(redis_settings)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    """Each test its own keys (one hash tag each), on the session's Redis."""
    return f"cx:{{outbox-test-{uuid.uuid4().hex[:8]}}}:"


@pytest.fixture
def outbox(client: redis.Redis, prefix: str) -> Outbox:
    return Outbox(client, prefix=prefix)


@pytest.fixture
def receiver_server() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def start_worker(client: redis.Redis, prefix: str) -> Iterator[Callable[..., DeliveryWorker]]:
    workers: list[DeliveryWorker] = []

    def start(
        receivers: list[ReceiverConfig], *, registry: CollectorRegistry | None = None, threads: int = 4
    ) -> DeliveryWorker:
        worker = DeliveryWorker(
            Outbox(client, prefix=prefix),
            receivers,
            pacer=ReceiverPacer(client, prefix=prefix + "pace:"),
            registry=registry or CollectorRegistry(),
            sender=Sender(policy=FAST_RETRIES, timeout_s=SENDER_TIMEOUT_S, seed=1),
            lease_s=LEASE_S,
            idle_wait_s=0.2,
            threads=threads,
        )
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def webhook(server: HttpReceiver, secret: str, name: str = "hook") -> WebhookReceiver:
    return WebhookReceiver(name=name, type="webhook", url=HttpUrl(server.url + "/cx"), secret=SecretStr(secret))


def successes_by_key(server: HttpReceiver) -> Counter[str]:
    return Counter(request.headers["webhook-id"] for request in server.succeeded())


def settle(seconds: float = 0.5) -> None:
    """Give a wrongly scheduled duplicate the chance to show up before asserting there is none."""
    time.sleep(seconds)


def test_receiver_down_then_back_gets_each_notification_exactly_once(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    back_at = time.monotonic() + 1.0
    receiver_server.handler = lambda request: Reply(503) if request.received_at < back_at else Reply(200)
    registry = CollectorRegistry()
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    keys = [f"inc-{n}:r1:hook" for n in range(8)]
    for n, key in enumerate(keys):
        assert outbox.enqueue(sample_notification(key=key, receiver="hook", incident_id=f"inc-{n}"))

    assert receiver_server.wait_for_successes(len(keys), timeout_s=15)
    settle()
    assert successes_by_key(receiver_server) == Counter(dict.fromkeys(keys, 1))
    assert any(request.reply.status == 503 for request in receiver_server.requests)
    for request in receiver_server.succeeded():
        Webhook(webhook_secret).verify(request.body, request.headers)
    assert all(outbox.is_delivered(key) for key in keys)
    assert outbox.counts().pending == 0
    assert registry.get_sample_value("cx_alerts_notifications_total", {"receiver": "hook", "result": "delivered"}) == 8
    retried = registry.get_sample_value("cx_alerts_notifications_total", {"receiver": "hook", "result": "retried"})
    assert retried is not None
    assert retried >= 8


def test_429_retry_after_is_honoured_for_the_whole_receiver(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    receiver_server.reply_with(Reply(429, b"slow down", {"Retry-After": "1"}))
    registry = CollectorRegistry()
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook", incident_id="inc-1"))
    assert receiver_server.wait_for(lambda requests: len(requests) == 1, timeout_s=5)
    refused_at = receiver_server.requests[0].received_at
    retried = {"receiver": "hook", "result": "retried"}
    while registry.get_sample_value("cx_alerts_notifications_total", retried) != 1:
        time.sleep(0.005)
    # Enqueued once the 429 is recorded: it must wait for the receiver's Retry-After too.
    outbox.enqueue(sample_notification(key="inc-2:r1:hook", receiver="hook", incident_id="inc-2"))

    assert receiver_server.wait_for_successes(2, timeout_s=10)
    later = receiver_server.requests[1:]
    assert len(later) == 2
    # Redis keeps milliseconds; allow for that rounding only.
    assert all(request.received_at - refused_at >= 0.99 for request in later)
    assert successes_by_key(receiver_server) == Counter({"inc-1:r1:hook": 1, "inc-2:r1:hook": 1})


def test_a_timeout_is_retried(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    receiver_server.reply_with(Reply(200, delay_s=SENDER_TIMEOUT_S * 4))
    registry = CollectorRegistry()
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))

    assert receiver_server.wait_for(lambda requests: len(requests) >= 2 and requests[-1].succeeded, timeout_s=10)
    settle()
    assert len(receiver_server.requests) == 2
    assert outbox.is_delivered("inc-1:r1:hook")
    assert registry.get_sample_value("cx_alerts_notifications_total", {"receiver": "hook", "result": "retried"}) == 1


def test_410_parks_with_the_reason_and_is_not_retried_until_requeued(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    receiver_server.reply_with(Reply(410, b"channel_is_archived"))
    registry = CollectorRegistry()
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    deadline = time.monotonic() + 5
    while not outbox.parked() and time.monotonic() < deadline:
        time.sleep(0.02)
    settle()

    parked = outbox.parked()
    assert [job.idempotency_key for job in parked] == ["inc-1:r1:hook"]
    assert "HTTP 410" in parked[0].reason
    assert "channel_is_archived" in parked[0].reason
    assert parked[0].receiver == "hook"
    assert len(receiver_server.requests) == 1
    assert registry.get_sample_value("cx_alerts_outbox_parked") == 1
    assert registry.get_sample_value("cx_alerts_notifications_total", {"receiver": "hook", "result": "parked"}) == 1

    assert outbox.requeue("inc-1:r1:hook")
    assert receiver_server.wait_for_successes(1, timeout_s=5)
    assert outbox.parked() == []
    assert not outbox.requeue("inc-1:r1:hook")
    assert registry.get_sample_value("cx_alerts_outbox_parked") == 0


def test_a_duplicate_enqueue_is_delivered_once_even_after_delivery(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    notification = sample_notification(key="inc-1:r1:hook", receiver="hook")

    assert outbox.enqueue(notification)
    assert not outbox.enqueue(notification)
    start_worker([webhook(receiver_server, webhook_secret)])
    assert receiver_server.wait_for_successes(1, timeout_s=5)
    assert not outbox.enqueue(notification)
    settle()

    assert len(receiver_server.requests) == 1


def test_delivered_keys_are_remembered_for_seven_days(
    outbox: Outbox, client: redis.Redis, prefix: str, receiver_server: HttpReceiver,
    start_worker: Callable[..., DeliveryWorker], webhook_secret: str,
) -> None:  # fmt: skip
    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    start_worker([webhook(receiver_server, webhook_secret)])
    assert receiver_server.wait_for_successes(1, timeout_s=5)
    time.sleep(0.05)

    assert client.ttl(prefix + "done:inc-1:r1:hook") >= 7 * 24 * 3600 - 5
    assert not client.exists(prefix + "job:inc-1:r1:hook")


def test_two_workers_on_one_outbox_deliver_each_job_once(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    flaky = random.Random(3)
    receiver_server.handler = lambda request: Reply(500) if flaky.random() < 0.2 else Reply(200)
    receivers: list[ReceiverConfig] = [webhook(receiver_server, webhook_secret)]
    first, second = CollectorRegistry(), CollectorRegistry()
    start_worker(receivers, registry=first, threads=3)
    start_worker(receivers, registry=second, threads=3)

    keys = [f"inc-{n % 10}:r{n}:hook" for n in range(60)]
    for key in keys:
        outbox.enqueue(sample_notification(key=key, receiver="hook", incident_id=key.split(":")[0]))

    assert receiver_server.wait_for_successes(len(keys), timeout_s=20)
    settle()
    assert successes_by_key(receiver_server) == Counter(dict.fromkeys(keys, 1))
    delivered = [
        registry.get_sample_value("cx_alerts_notifications_total", {"receiver": "hook", "result": "delivered"}) or 0
        for registry in (first, second)
    ]
    assert sum(delivered) == len(keys)


def test_a_sender_killed_mid_lease_is_replaced_after_the_lease_expires_once(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    abandoned = outbox.claim(lease_s=LEASE_S)
    claimed_at = time.monotonic()
    assert [job.idempotency_key for job in abandoned.jobs] == ["inc-1:r1:hook"]

    start_worker([webhook(receiver_server, webhook_secret)])

    assert receiver_server.wait_for_successes(1, timeout_s=5)
    assert receiver_server.requests[0].received_at - claimed_at >= LEASE_S - 0.05
    settle()
    assert len(receiver_server.requests) == 1
    assert not outbox.mark_delivered(abandoned.jobs[0])
    assert not outbox.park(abandoned.jobs[0], "late")


def test_a_stale_holder_cannot_finish_a_job_another_worker_holds(outbox: Outbox) -> None:
    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    stale = outbox.claim(lease_s=0.05).jobs[0]
    time.sleep(0.1)
    current = outbox.claim(lease_s=30).jobs[0]

    assert current.attempts == 2
    assert not outbox.mark_delivered(stale)
    assert not outbox.reschedule(stale, after_s=0)
    assert outbox.mark_delivered(current)


def test_trigger_then_resolve_arrive_in_order_through_retries(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker]
) -> None:
    receiver_server.reply_with(Reply(500), Reply(502), Reply(202, b'{"status":"success"}'))
    receiver_server.default = Reply(202, b'{"status":"success"}')
    pagerduty = PagerDutyReceiver(
        name="pd",
        type="pagerduty",
        routing_key=SecretStr("R0UT1NGKEY0000000000000000000000"),
        url=HttpUrl(receiver_server.url + "/v2/enqueue"),
    )
    start_worker([pagerduty], threads=4)

    lifecycle: list[tuple[str, NotificationAction]] = [
        ("inc-1:r1:pd", "trigger"),
        ("inc-1:r2:pd", "acknowledge"),
        ("inc-1:r3:pd", "resolve"),
    ]
    for key, action in lifecycle:
        outbox.enqueue(sample_notification(key=key, receiver="pd", action=action))

    assert receiver_server.wait_for_successes(3, timeout_s=10)
    settle()
    sent = [(request.json()["event_action"], request.reply.status) for request in receiver_server.requests]
    assert sent == [("trigger", 500), ("trigger", 502), ("trigger", 202), ("acknowledge", 202), ("resolve", 202)]
    assert {request.json()["dedup_key"] for request in receiver_server.requests} == {"fp-acme-air-baggage"}


def test_a_parked_head_does_not_block_the_rest_of_its_incident(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    receiver_server.reply_with(Reply(400, b"invalid_payload"))
    start_worker([webhook(receiver_server, webhook_secret)])

    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    outbox.enqueue(sample_notification(key="inc-1:r2:hook", receiver="hook", action="resolve"))

    assert receiver_server.wait_for_successes(1, timeout_s=5)
    assert [request.headers["webhook-id"] for request in receiver_server.requests] == [
        "inc-1:r1:hook",
        "inc-1:r2:hook",
    ]
    assert [job.idempotency_key for job in outbox.parked()] == ["inc-1:r1:hook"]


def test_slack_is_paced_to_one_message_per_second_across_workers(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker]
) -> None:
    slack = SlackReceiver(name="slack", type="slack", url=SecretStr(receiver_server.url + "/services/T/B/secret"))
    start_worker([slack], threads=2)
    start_worker([slack], threads=2)

    for n in range(3):
        outbox.enqueue(sample_notification(key=f"inc-{n}:r1:slack", receiver="slack", incident_id=f"inc-{n}"))

    assert receiver_server.wait_for_successes(3, timeout_s=10)
    arrivals = [request.received_at for request in receiver_server.requests]
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.99 for earlier, later in itertools.pairwise(arrivals))
    assert "blocks" in receiver_server.requests[0].json()


def test_log_receiver_appends_json_lines(
    outbox: Outbox, start_worker: Callable[..., DeliveryWorker], tmp_path: Path
) -> None:
    path = tmp_path / "sink" / "notifications.ndjson"
    start_worker([LogReceiver(name="local", type="log", path=str(path))])

    for n in range(5):
        outbox.enqueue(sample_notification(key=f"inc-{n}:r1:local", receiver="local", incident_id=f"inc-{n}"))
    deadline = time.monotonic() + 5
    while outbox.counts().pending and time.monotonic() < deadline:
        time.sleep(0.02)

    lines = path.read_text().splitlines()
    assert sorted(json.loads(line)["notification"]["idempotency_key"] for line in lines) == [
        f"inc-{n}:r1:local" for n in range(5)
    ]


def test_a_job_for_an_unconfigured_receiver_is_parked(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    registry = CollectorRegistry()
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    outbox.enqueue(sample_notification(key="inc-1:r1:gone", receiver="gone"))
    deadline = time.monotonic() + 5
    while not outbox.parked() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert "not configured" in outbox.parked()[0].reason
    labels = {"receiver": "_unconfigured", "result": "parked"}
    assert registry.get_sample_value("cx_alerts_notifications_total", labels) == 1


def test_attempt_histogram_and_due_gauge(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    registry = CollectorRegistry()
    receiver_server.default = Reply(503)
    start_worker([webhook(receiver_server, webhook_secret)], registry=registry)

    outbox.enqueue(sample_notification(key="inc-1:r1:hook", receiver="hook"))
    # The third request arrives after the second attempt was timed and recorded.
    assert receiver_server.wait_for(lambda requests: len(requests) >= 3, timeout_s=5)

    assert registry.get_sample_value("cx_alerts_outbox_due") == 1
    count = registry.get_sample_value("cx_alerts_notification_attempt_seconds_count", {"receiver": "hook"})
    assert count is not None
    assert count >= 2
    receiver_server.default = Reply(200)
    assert receiver_server.wait_for_successes(1, timeout_s=5)
    time.sleep(0.05)
    assert registry.get_sample_value("cx_alerts_outbox_due") == 0


def test_enqueue_to_delivered_latency_on_loopback(
    outbox: Outbox, receiver_server: HttpReceiver, start_worker: Callable[..., DeliveryWorker], webhook_secret: str
) -> None:
    start_worker([webhook(receiver_server, webhook_secret)], threads=2)
    time.sleep(0.3)

    latencies = []
    for n in range(40):
        enqueued_at = time.monotonic()
        outbox.enqueue(sample_notification(key=f"inc-{n}:r1:hook", receiver="hook", incident_id=f"inc-{n}"))
        assert receiver_server.wait_for_successes(n + 1, timeout_s=5)
        arrived: ReceivedRequest = receiver_server.succeeded()[-1]
        latencies.append(arrived.received_at - enqueued_at)

    assert statistics.median(latencies) < 0.05
    assert max(latencies) < 0.5
