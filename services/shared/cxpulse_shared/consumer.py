"""A kafka-python poll loop on its own thread, started and stopped by a service's lifespan.

kafka-python blocks, so the loop never runs on the event loop. The handler does the work and
commits (or commits within a transaction); the worker only polls, hands over and survives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

logger = logging.getLogger(__name__)

BatchHandler = Callable[[KafkaConsumer, dict[Any, list[Any]]], None]


class ConsumerWorker:
    def __init__(
        self,
        name: str,
        consumer_factory: Callable[[], KafkaConsumer],
        handle_batch: BatchHandler,
        *,
        poll_timeout_ms: int = 500,
        max_records: int = 1000,
        on_stop: Callable[[], None] = lambda: None,
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_idle` runs after a poll that brought nothing, for timers that must fire without traffic."""
        self._name = name
        self._consumer_factory = consumer_factory
        self._handle_batch = handle_batch
        self._poll_timeout_ms = poll_timeout_ms
        self._max_records = max_records
        self._on_stop = on_stop
        self._on_idle = on_idle
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-consumer", daemon=True)
        self.last_poll_monotonic = 0.0
        self.assigned_partitions = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout_s)
        self._on_stop()

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                consumer = self._consumer_factory()
            except Exception:
                logger.exception("%s: cannot create consumer; retrying", self._name)
                self._stopping.wait(1.0)
                continue
            try:
                self._poll_until_stopped(consumer)
            except Exception:
                # Handler failures must not commit: the batch is re-read by a fresh consumer.
                logger.exception("%s: consume loop failed; restarting from the last commit", self._name)
                self._stopping.wait(1.0)
            finally:
                try:
                    consumer.close(autocommit=False)
                except Exception:
                    logger.exception("%s: error closing consumer", self._name)

    def _poll_until_stopped(self, consumer: KafkaConsumer) -> None:
        while not self._stopping.is_set():
            batch = consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=self._max_records)
            self.last_poll_monotonic = time.monotonic()
            self.assigned_partitions = len(consumer.assignment())
            if batch:
                self._handle_batch(consumer, batch)
            else:
                self._on_idle()


def consumer_lag(consumer: KafkaConsumer) -> int:
    """Records behind the log end, summed over the partitions this consumer holds."""
    lag = 0
    for partition in consumer.assignment():
        end, position = consumer.highwater(partition), consumer.position(partition)
        if end is not None and position is not None:
            lag += max(0, end - position)
    return lag
