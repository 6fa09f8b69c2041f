"""kafka-python adapters: producer and consumer factories, topic set-up.

kafka-python is a blocking client: nothing here may run its calls on an event loop thread. The
collector publishes through a producer in a child process (`producer_process`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

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


def any_server_accepts(bootstrap_servers: str, *, timeout_s: float) -> bool:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False
