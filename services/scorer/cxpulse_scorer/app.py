"""The scorer's composition root: `create_app()` wires its adapters in the lifespan."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.api import ScorerRuntime
from cxpulse_scorer.api import router as api_router
from cxpulse_scorer.brands import BrandCatalog, load_brands
from cxpulse_scorer.domain.journey import StageTaxonomy, load_taxonomies
from cxpulse_scorer.domain.reach import reach
from cxpulse_scorer.domain.scoring import FeedbackScorer
from cxpulse_scorer.domain.sentiment import load_scorer
from cxpulse_scorer.domain.topics import load_topic_tagger
from cxpulse_scorer.metrics import SatisfactionCollector
from cxpulse_scorer.worker import GROUP, ScorerMetrics, ScoringPipeline
from cxpulse_shared.auth import TokenAuthority
from cxpulse_shared.consumer import ConsumerWorker
from cxpulse_shared.health import ReadinessCheck
from cxpulse_shared.kafka import make_consumer, make_producer
from cxpulse_shared.redis import make_redis
from cxpulse_shared.service import consuming_service_app
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings, TelemetrySettings
from cxpulse_shared.telemetry import make_registry, make_tracer_provider

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


class ScorerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORER_", extra="ignore", populate_by_name=True)

    brands_file: Path = CONFIG_DIR / "brands.yaml"
    taxonomies_dir: Path = CONFIG_DIR / "taxonomies"
    topics_file: Path = CONFIG_DIR / "topics.yaml"
    sentiment_model: Path | None = Field(default=None, description="a model from `cxpulse sentiment fit`")
    min_responses: int = Field(default=30, ge=1, description="below it a figure is null, `sufficient` false")
    instance_id: str = Field(default_factory=socket.gethostname, description="stable per replica: fences its zombie")
    group_id: str = Field(default=GROUP, description="consumer group; tests use their own")
    max_poll_records: int = Field(default=1000, ge=1)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    transaction_timeout_ms: int = Field(default=30_000, ge=1000)
    pseudonymisation_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SCORER_PSEUDONYMISATION_KEY", "COLLECTOR_PSEUDONYMISATION_KEY"),
        description="the collector's key, so an erasure can find a raw customer id; without it only "
        "pseudonyms and platform:handle can be erased",
    )


@dataclass(frozen=True)
class ScoringSetup:
    """The configured brands, taxonomies and the scorer built from them."""

    brands: BrandCatalog
    taxonomies: dict[str, StageTaxonomy]
    scorer: FeedbackScorer


def load_scoring(settings: ScorerSettings) -> ScoringSetup:
    """The one place the scorer's configuration becomes a scorer: the service, `cxpulse rescore`,
    the mentions backtest and the tests' reference figures all use it."""
    brands = load_brands(settings.brands_file)
    taxonomies = load_taxonomies(settings.taxonomies_dir)
    missing = brands.taxonomies() - taxonomies.keys()
    if missing:
        raise ValueError(f"brands use taxonomies with no file in {settings.taxonomies_dir}: {sorted(missing)}")
    scorer = FeedbackScorer(
        sentiment=load_scorer(settings.sentiment_model),
        stages=taxonomies,
        topics=load_topic_tagger(settings.topics_file),
        reach=reach,
        brands=brands,
    )
    return ScoringSetup(brands=brands, taxonomies=taxonomies, scorer=scorer)


def create_app(
    settings: ScorerSettings | None = None,
    *,
    kafka: KafkaSettings | None = None,
    redis_settings: RedisSettings | None = None,
    auth: ApiAuthSettings | None = None,
    registry: CollectorRegistry | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    registry = registry or make_registry()
    metrics = ScorerMetrics.register(registry)
    tracer_provider = tracer_provider or make_tracer_provider("cxpulse-scorer", TelemetrySettings())

    def start_worker(app: FastAPI) -> ConsumerWorker:
        config = settings or ScorerSettings()
        kafka_settings = kafka or KafkaSettings()
        setup = load_scoring(config)
        brands, taxonomies, scorer = setup.brands, setup.taxonomies, setup.scorer
        aggregates = RedisAggregates(make_redis(redis_settings or RedisSettings()))
        pipeline = ScoringPipeline(
            scorer=scorer,
            aggregates=aggregates,
            producer_factory=lambda: make_producer(
                kafka_settings,
                transactional_id=f"cx-scorer-{config.instance_id}",
                transaction_timeout_ms=config.transaction_timeout_ms,
            ),
            metrics=metrics,
            tracer=tracer_provider.get_tracer("cxpulse.scorer"),
            consumer_group=config.group_id,
        )
        app.state.scorer = ScorerRuntime(
            brands=brands,
            aggregates=aggregates,
            authority=TokenAuthority(auth or ApiAuthSettings()),
            min_responses=config.min_responses,
            stage_order={name: list(taxonomy.stages) for name, taxonomy in taxonomies.items()},
            pseudonymisation_key=config.pseudonymisation_key.get_secret_value().encode()
            if config.pseudonymisation_key
            else None,
        )
        app.state.pipeline = pipeline

        def stop() -> None:
            pipeline.close()
            tracer_provider.shutdown()

        registry.register(SatisfactionCollector(aggregates, brands, min_responses=config.min_responses))
        worker = ConsumerWorker(
            "scorer",
            lambda: make_consumer(
                kafka_settings,
                group_id=config.group_id,
                topics=[topics.FEEDBACK],
                max_poll_records=config.max_poll_records,
                max_poll_interval_ms=config.max_poll_interval_ms,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=max(config.session_timeout_ms // 4, 500),
            ),
            pipeline.handle,
            max_records=config.max_poll_records,
            on_stop=stop,
        )
        worker.start()
        return worker

    def readiness(app: FastAPI) -> Mapping[str, ReadinessCheck]:
        async def redis_ok() -> bool:
            return bool(app.state.scorer.aggregates.ping())

        return {"redis": redis_ok}

    return consuming_service_app(
        title="cxpulse scorer",
        description="Scores feedback and keeps journey-stage satisfaction and the social P&L.",
        registry=registry,
        start_worker=start_worker,
        extra_checks=readiness,
        routers=[api_router],
    )
