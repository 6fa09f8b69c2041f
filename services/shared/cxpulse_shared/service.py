"""What every consuming service shares: operations endpoints, problem+json and its consume loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry, Counter

from cxpulse_shared.consumer import ConsumerWorker
from cxpulse_shared.health import ReadinessCheck, health_router
from cxpulse_shared.heap import startup_heap_frozen
from cxpulse_shared.http_metrics import RequestCounter
from cxpulse_shared.problem import install_problem_handlers
from cxpulse_shared.settings import LoggingSettings
from cxpulse_shared.telemetry import FASTAPI_NATIVE_TELEMETRY_OFF, configure_logging


def consuming_service_app(
    *,
    title: str,
    description: str,
    registry: CollectorRegistry,
    start_worker: Callable[[FastAPI], ConsumerWorker],
    extra_checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]] = lambda app: {},
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """`start_worker` builds the service's adapters, keeps what handlers need on `app.state`,
    and returns the started consume loop; it runs on a thread because the clients block."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(LoggingSettings().log_level)
        worker = await asyncio.to_thread(start_worker, app)
        app.state.worker = worker
        try:
            with startup_heap_frozen():
                yield
        finally:
            await asyncio.to_thread(worker.stop)

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        telemetry=FASTAPI_NATIVE_TELEMETRY_OFF,
    )
    install_problem_handlers(app)

    def checks() -> Mapping[str, ReadinessCheck]:
        worker: ConsumerWorker = app.state.worker

        async def consumer() -> bool:
            return worker.alive()

        return {"consumer": consumer, **extra_checks(app)}

    app.include_router(health_router(checks=checks, registry=registry))
    for router in routers:
        app.include_router(router)
    requests = Counter("cx_http_requests", "API requests by route and status", ["route", "status"], registry=registry)
    app.add_middleware(RequestCounter, counter=requests)
    return app
