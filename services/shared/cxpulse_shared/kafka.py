"""kafka-python adapters: producer and consumer factories, topic set-up, an asyncio bridge.

kafka-python is a blocking client: nothing here may run its calls on an event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from cxpulse_shared.cloudevents import Headers
from cxpulse_shared.settings import KafkaSettings

logger = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge every record in time; nothing may be reported as accepted."""


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


def make_producer(settings: KafkaSettings, *, transactional_id: str | None = None, **overrides: Any) -> KafkaProducer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.linger_ms,
        "batch_size": settings.batch_size_bytes,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
    }
    if transactional_id:
        config["transactional_id"] = transactional_id
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(settings: KafkaSettings, *, group_id: str, topics: Sequence[str], **overrides: Any) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "security_protocol": settings.security_protocol,
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def ensure_topics(settings: KafkaSettings, topics: Sequence[str], *, partitions: int | None = None) -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        client_id=f"{settings.client_id}-admin",
        security_protocol=settings.security_protocol,
    )
    try:
        missing = [name for name in topics if name not in set(admin.list_topics())]
        if missing:
            new_topics = [NewTopic(name, partitions or settings.partitions, 1) for name in missing]
            try:
                admin.create_topics(new_topics)
            except TopicAlreadyExistsError:
                logger.info("topics created concurrently: %s", missing)
    finally:
        admin.close()


class AsyncPublisher:
    """Publishes records from async code and resolves once the broker acknowledged all of them.

    `send()` runs on the event loop: topic metadata is fetched before the first request and the
    producer's buffer only fills while the broker is gone, so a send blocks at most the
    producer's `max_block_ms` (kept short) before the request is answered 503. Acknowledgements
    arrive on the producer's I/O thread; they are counted there and the event loop is woken once
    per request, not once per record.
    """

    def __init__(self, producer: KafkaProducer, *, bootstrap_servers: str, timeout_s: float) -> None:
        self._producer = producer
        self._bootstrap_servers = bootstrap_servers
        self._timeout_s = timeout_s
        self._last_failure_monotonic = float("-inf")

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        loop = asyncio.get_running_loop()
        all_acknowledged: asyncio.Future[None] = loop.create_future()
        tracker = _AcknowledgementCounter(loop, all_acknowledged, len(records))
        try:
            for record in records:
                future = self._producer.send(record.topic, key=record.key, value=record.value, headers=record.headers)
                future.add_callback(tracker.acknowledged)
                future.add_errback(tracker.failed)
            await asyncio.wait_for(all_acknowledged, self._timeout_s)
        except (TimeoutError, KafkaError) as error:
            self._last_failure_monotonic = time.monotonic()
            raise PublishFailed(f"broker did not acknowledge {len(records)} record(s): {error!r}") from error

    async def broker_reachable(self) -> bool:
        """Not ready while publishes fail, nor while no bootstrap server accepts a connection."""
        if time.monotonic() - self._last_failure_monotonic < self._timeout_s:
            return False
        return await asyncio.to_thread(any_server_accepts, self._bootstrap_servers, timeout_s=1.0)

    def close(self) -> None:
        self._producer.close(timeout=5)


class _AcknowledgementCounter:
    def __init__(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[None], expected: int) -> None:
        self._loop = loop
        self._done = done
        self._remaining = expected
        self._lock = threading.Lock()

    def acknowledged(self, _metadata: Any) -> None:
        with self._lock:
            self._remaining -= 1
            finished = self._remaining == 0
        if finished:
            self._loop.call_soon_threadsafe(_set_result_unless_done, self._done)

    def failed(self, error: BaseException) -> None:
        self._loop.call_soon_threadsafe(_set_exception_unless_done, self._done, error)


def any_server_accepts(bootstrap_servers: str, *, timeout_s: float) -> bool:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _set_result_unless_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _set_exception_unless_done(future: asyncio.Future[None], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
