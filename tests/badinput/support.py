"""Running schemathesis over a service's OpenAPI in-process, against its real broker and Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, TopicPartition
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation and generation mode; `make fault`-style runs raise it for a longer search.
EXAMPLES = int(os.environ.get("CXPULSE_SCHEMATHESIS_EXAMPLES", "60"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@contextmanager
def serving(app: FastAPI, schema_document: dict[str, Any] | None = None) -> Iterator[schemathesis.BaseSchema]:
    """The app's lifespan runs on schemathesis's own event loop, so every request shares the app's
    async clients; `schema_document` replaces the published OpenAPI (e.g. to describe a raw body).
    Schemathesis's pytest plugin ends every such lifespan after each test: an app serves one test."""
    try:
        with asgi.get_client(app):
            if schema_document is None:
                yield schemathesis.openapi.from_asgi("/openapi.json", app)
            else:
                loaded = schemathesis.openapi.from_dict(schema_document)
                loaded.app = app
                yield loaded
    finally:
        asgi.shutdown_lifespans()


def operations(schema: schemathesis.BaseSchema) -> list[APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


@dataclass
class FuzzReport:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def summary(self) -> str:
        lines = [f"{label}: {dict(sorted(counts.items()))}" for label, counts in self.statuses.items()]
        return "\n".join([f"{self.cases} cases", *lines])


def fuzz(
    schema: schemathesis.BaseSchema,
    send: Callable[[schemathesis.Case], int],
    *,
    examples: int = EXAMPLES,
    only: Callable[[APIOperation], bool] = lambda operation: True,
    query: dict[str, Any] | None = None,
    path_parameters: dict[str, Any] | None = None,
) -> FuzzReport:
    """Valid and invalid cases for every operation; `send` calls, checks and returns the status.
    Every operation runs even when an earlier one fails, so one report shows all of them."""
    report = FuzzReport()
    for operation in filter(only, operations(schema)):
        statuses: Counter[int] = Counter()
        report.statuses[operation.label] = statuses
        try:
            _fuzz_operation(operation, send, statuses, examples=examples, query=query, path_parameters=path_parameters)
        except Exception as error:
            report.failures[operation.label] = str(error)
    return report


def _fuzz_operation(
    operation: APIOperation,
    send: Callable[[schemathesis.Case], int],
    statuses: Counter[int],
    *,
    examples: int,
    query: dict[str, Any] | None,
    path_parameters: dict[str, Any] | None,
) -> None:
    strategy = st.one_of(
        operation.as_strategy(mode, query=query, path_parameters=path_parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )

    @given(case=strategy)
    @settings(max_examples=2 * examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        statuses[send(case)] += 1

    run()


def sign_raw(secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers over the raw bytes, which need not be UTF-8 (the `standardwebhooks`
    signer takes text, and generated bodies are not always text)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    signed_at = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{signed_at}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": signed_at,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@contextmanager
def use_database(redis_url: str, database: int) -> Iterator[str]:
    """A Redis database of the session's server for one app alone, emptied afterwards."""
    url = f"{redis_url.rsplit('/', 1)[0]}/{database}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


class TopicWatch:
    """Where a topic ends, asked again and again over one connection (cheap enough per request)."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","), enable_auto_commit=False)
        self._partitions = [TopicPartition(topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or [])]

    def ends(self) -> dict[int, int]:
        return {tp.partition: offset for tp, offset in self._consumer.end_offsets(self._partitions).items()}

    def close(self) -> None:
        self._consumer.close()
