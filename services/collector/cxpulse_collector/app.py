"""The collector's composition root: `create_app()` receives its adapters or builds them in lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from cxpulse_collector.adapters.claims import RedisEventClaims
from cxpulse_collector.adapters.rate_limit import RedisRateLimiter
from cxpulse_collector.api.openapi import document_request_bodies
from cxpulse_collector.api.webhooks import router as webhook_router
from cxpulse_collector.config import Channel, CollectorSettings, load_channels
from cxpulse_collector.metrics import CollectorMetrics
from cxpulse_collector.runtime import CollectorRuntime, RateLimiter
from cxpulse_collector.service import EventClaims, IngestService, Publisher
from cxpulse_collector.sources.registry import load_adapters
from cxpulse_contracts import topics
from cxpulse_shared.health import ReadinessCheck, health_router
from cxpulse_shared.heap import startup_heap_frozen
from cxpulse_shared.http_metrics import RequestCounter
from cxpulse_shared.problem import install_problem_handlers
from cxpulse_shared.producer_process import ProcessPublisher
from cxpulse_shared.redis import make_async_redis
from cxpulse_shared.settings import KafkaSettings, LoggingSettings, RedisSettings, TelemetrySettings
from cxpulse_shared.telemetry import (
    FASTAPI_NATIVE_TELEMETRY_OFF,
    configure_logging,
    make_registry,
    make_tracer_provider,
)

# A send() blocking in the producer process holds up the requests behind it: never let it block for long.
SEND_MAX_BLOCK_MS = 250


@dataclass
class CollectorAdapters:
    """What the collector talks to; tests pass fakes for unit tests, real clients otherwise."""

    claims: EventClaims
    publisher: Publisher
    rate_limiter: RateLimiter
    close: Callable[[], object] = lambda: None


async def build_real_adapters(
    settings: CollectorSettings, kafka: KafkaSettings, redis_settings: RedisSettings, *, log_level: str
) -> CollectorAdapters:
    redis_client = make_async_redis(redis_settings)
    publisher = ProcessPublisher(
        kafka,
        topic=topics.FEEDBACK,
        timeout_s=settings.publish_timeout_s,
        producer_overrides={"max_block_ms": SEND_MAX_BLOCK_MS, "linger_ms": settings.publish_linger_ms},
        log_level=log_level,
    )
    # The child connects and fetches the topic's metadata first, so readiness means "can publish".
    await publisher.start()

    async def close() -> None:
        await publisher.close()
        await redis_client.aclose()

    return CollectorAdapters(
        claims=RedisEventClaims(
            redis_client,
            pending_ttl_s=settings.pending_claim_ttl_s,
            published_ttl_s=settings.dedupe_ttl_hours * 3600,
        ),
        publisher=publisher,
        rate_limiter=RedisRateLimiter(redis_client),
        close=close,
    )


def create_app(
    settings: CollectorSettings | None = None,
    *,
    adapters: CollectorAdapters | None = None,
    channels: Mapping[str, Channel] | None = None,
    kafka: KafkaSettings | None = None,
    redis_settings: RedisSettings | None = None,
    registry: CollectorRegistry | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    registry = registry or make_registry()
    metrics = CollectorMetrics.register(registry)
    tracer_provider = tracer_provider or make_tracer_provider("cxpulse-collector", TelemetrySettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_level = LoggingSettings().log_level
        configure_logging(log_level)
        collector_settings = settings or CollectorSettings()
        in_use = adapters or await build_real_adapters(
            collector_settings, kafka or KafkaSettings(), redis_settings or RedisSettings(), log_level=log_level
        )
        app.state.collector = CollectorRuntime(
            settings=collector_settings,
            channels=channels if channels is not None else load_channels(collector_settings.channels_file),
            sources=load_adapters(),
            ingest=IngestService(claims=in_use.claims, publisher=in_use.publisher, metrics=metrics),
            rate_limiter=in_use.rate_limiter,
            metrics=metrics,
            tracer=tracer_provider.get_tracer("cxpulse.collector"),
            pseudonymisation_key=collector_settings.pseudonymisation_key.get_secret_value().encode(),
        )
        app.state.adapters = in_use
        try:
            with startup_heap_frozen():
                yield
        finally:
            closing = in_use.close()
            if asyncio.iscoroutine(closing):
                await closing
            tracer_provider.shutdown()

    app = FastAPI(
        title="cxpulse collector",
        version="1.0.0",
        description="Receives signed feedback webhooks and publishes each event to Kafka once.",
        lifespan=lifespan,
        telemetry=FASTAPI_NATIVE_TELEMETRY_OFF,
    )
    install_problem_handlers(app)

    def readiness_checks() -> Mapping[str, ReadinessCheck]:
        in_use: CollectorAdapters = app.state.adapters

        return {"broker": in_use.publisher.broker_reachable, "redis": in_use.claims.ping}

    app.include_router(health_router(checks=readiness_checks, registry=registry))
    app.include_router(webhook_router)

    def openapi_with_request_bodies() -> dict[str, Any]:
        if app.openapi_schema is None:
            running: CollectorRuntime | None = getattr(app.state, "collector", None)
            # Before start-up, the defaults (model_construct reads no environment and needs no secrets).
            in_force = running.settings if running is not None else settings or CollectorSettings.model_construct()
            max_batch = in_force.max_batch_events
            app.openapi_schema = document_request_bodies(FastAPI.openapi(app), max_batch=max_batch)
        return app.openapi_schema

    app.openapi = openapi_with_request_bodies  # type: ignore[method-assign]  # FastAPI documents this override
    app.add_middleware(RequestCounter, counter=metrics.requests)
    return app
