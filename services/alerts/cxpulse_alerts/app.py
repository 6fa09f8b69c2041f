"""The alerts service's composition root: `create_app()` wires its adapters in the lifespan."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cxpulse_alerts.adapters.store import RedisAlertStore
from cxpulse_alerts.api import AlertsRuntime
from cxpulse_alerts.api import router as api_router
from cxpulse_alerts.domain.detectors import LIVE_ALERT_THRESHOLD
from cxpulse_alerts.domain.incidents import EngineSettings, IncidentEngine, Routing
from cxpulse_alerts.domain.monitor import MonitorSettings, SignalMonitor
from cxpulse_alerts.domain.ownership import Ownership, load_ownership
from cxpulse_alerts.metrics import OpenIncidentsCollector
from cxpulse_alerts.receivers.delivery import ReceiverPacer
from cxpulse_alerts.receivers.outbox import DeliveryWorker, Outbox
from cxpulse_alerts.worker import GROUP, AlertsMetrics, AlertsPipeline
from cxpulse_contracts import topics
from cxpulse_shared.auth import TokenAuthority
from cxpulse_shared.consumer import ConsumerWorker
from cxpulse_shared.health import ReadinessCheck
from cxpulse_shared.kafka import make_consumer, make_producer
from cxpulse_shared.redis import make_redis
from cxpulse_shared.service import consuming_service_app
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings, TelemetrySettings
from cxpulse_shared.telemetry import make_registry, make_tracer_provider

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


class AlertsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore")

    ownership_file: Path = Field(
        default=CONFIG_DIR / "ownership.yaml", validation_alias=AliasChoices("OWNERSHIP_FILE", "ALERTS_OWNERSHIP_FILE")
    )
    open_threshold: float = Field(default=LIVE_ALERT_THRESHOLD, gt=0, le=1, description="a signal's score that pages")
    resolve_after: timedelta = Field(default=timedelta(minutes=30), description="quiet time before auto-resolve")
    influencer_followers: int = Field(default=100_000, ge=1)
    viral_shares: int = Field(default=200, ge=1)
    volume_warmup: timedelta = Field(default=timedelta(days=2), description="history before volume spikes page")
    delivery_threads: int = Field(default=4, ge=1, le=64)
    group_id: str = Field(default=GROUP, description="consumer group; tests use their own")
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    resolved_incident_retention: timedelta = Field(
        default=timedelta(days=365),
        description="how long a resolved incident and its evidence (sample mentions) are kept; 0 for ever",
    )


def routing_from(ownership: Ownership) -> Callable[[Mapping[str, Any]], Routing]:
    def route(labels: Mapping[str, Any]) -> Routing:
        result = ownership.route(labels)
        return Routing(
            teams=tuple(result.teams),
            receivers=tuple(result.receivers),
            escalation_receivers=tuple(result.escalation_receivers),
            group_wait=result.group_wait,
            group_interval=result.group_interval,
            repeat_interval=result.repeat_interval,
            acknowledge_within=result.acknowledge_within,
        )

    return route


def create_app(
    settings: AlertsSettings | None = None,
    *,
    kafka: KafkaSettings | None = None,
    redis_settings: RedisSettings | None = None,
    auth: ApiAuthSettings | None = None,
    registry: CollectorRegistry | None = None,
    environ: Mapping[str, str] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    registry = registry or make_registry()
    metrics = AlertsMetrics.register(registry)
    tracer_provider = tracer_provider or make_tracer_provider("cxpulse-alerts", TelemetrySettings())

    def start_worker(app: FastAPI) -> ConsumerWorker:
        config = settings or AlertsSettings()
        kafka_settings = kafka or KafkaSettings()
        ownership = load_ownership(config.ownership_file, environ if environ is not None else dict(os.environ))
        redis_client = make_redis(redis_settings or RedisSettings())
        store = RedisAlertStore(
            redis_client, resolved_retention_s=int(config.resolved_incident_retention.total_seconds())
        )
        previous = store.remember_config_digest("ownership", ownership.digest)
        if previous is not None:
            store.audit(
                actor="system",
                action="configuration-changed",
                target=str(config.ownership_file),
                details={"previous_digest": previous, "digest": ownership.digest},
            )
        engine = IncidentEngine(
            route=routing_from(ownership),
            settings=EngineSettings(open_threshold=config.open_threshold, resolve_after=config.resolve_after),
        )
        outbox = Outbox(redis_client)
        pipeline = AlertsPipeline(
            monitor=SignalMonitor(
                MonitorSettings(
                    influencer_followers=config.influencer_followers,
                    viral_shares=config.viral_shares,
                    volume_warmup=config.volume_warmup,
                )
            ),
            engine=engine,
            store=store,
            outbox=outbox,
            redis_client=redis_client,
            producer_factory=lambda: make_producer(kafka_settings),
            metrics=metrics,
        )
        delivery = DeliveryWorker(
            outbox,
            ownership.receivers.values(),
            pacer=ReceiverPacer(redis_client),
            registry=registry,
            threads=config.delivery_threads,
            tracer=tracer_provider.get_tracer("cxpulse.alerts"),
        )
        delivery.start()
        registry.register(OpenIncidentsCollector(store))
        app.state.alerts = AlertsRuntime(
            store=store,
            engine=engine,
            authority=TokenAuthority(auth or ApiAuthSettings()),
            publish_change=pipeline.publish_change,
        )
        app.state.delivery = delivery

        def stop() -> None:
            delivery.stop()
            pipeline.close()
            tracer_provider.shutdown()

        worker = ConsumerWorker(
            "alerts",
            lambda: make_consumer(
                kafka_settings,
                group_id=config.group_id,
                topics=[topics.SCORED],
                max_poll_interval_ms=config.max_poll_interval_ms,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=max(config.session_timeout_ms // 4, 500),
            ),
            pipeline.handle,
            on_stop=stop,
            on_idle=pipeline.tick_now_and_then,
        )
        worker.start()
        return worker

    def readiness(app: FastAPI) -> Mapping[str, ReadinessCheck]:
        async def redis_ok() -> bool:
            return bool(app.state.alerts.store.ping())

        async def delivery_ok() -> bool:
            return bool(app.state.delivery.alive())

        return {"redis": redis_ok, "delivery": delivery_ok}

    return consuming_service_app(
        title="cxpulse alerts",
        description="Detects brewing crises, groups them into incidents and routes them to their owners.",
        registry=registry,
        start_worker=start_worker,
        extra_checks=readiness,
        routers=[api_router],
    )
