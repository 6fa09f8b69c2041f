"""The alerts's composition root. Until detection lands it consumes and counts the scored stream."""

from __future__ import annotations

from typing import Any

from cxpulse_contracts import topics
from cxpulse_shared.consumer import ConsumerWorker
from cxpulse_shared.kafka import make_consumer
from cxpulse_shared.service import consuming_service_app
from cxpulse_shared.settings import KafkaSettings
from cxpulse_shared.telemetry import make_registry
from fastapi import FastAPI
from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry, Counter

GROUP = "cx-alerts"


def create_app(kafka: KafkaSettings | None = None, *, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = registry or make_registry()
    consumed = Counter("cx_alerts_events_consumed", "Scored events consumed", registry=registry)

    def handle(consumer: KafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        consumed.inc(sum(len(records) for records in batch.values()))
        consumer.commit()

    def start_worker(app: FastAPI) -> ConsumerWorker:
        settings = kafka or KafkaSettings()
        worker = ConsumerWorker(
            "alerts", lambda: make_consumer(settings, group_id=GROUP, topics=[topics.SCORED]), handle
        )
        worker.start()
        return worker

    return consuming_service_app(
        title="cxpulse alerts",
        description="Detects brewing crises, groups them into incidents and routes them to their owners.",
        registry=registry,
        start_worker=start_worker,
    )
