"""`/healthz`, `/readyz` and `/metrics`, the same for every service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(*, checks: Callable[[], Mapping[str, ReadinessCheck]], registry: CollectorRegistry) -> APIRouter:
    """`checks` is called per request because adapters are only known once the lifespan ran."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Every dependency is reachable")
    async def readyz() -> JSONResponse:
        results: dict[str, bool] = {}
        for name, check in checks().items():
            try:
                results[name] = await check()
            except Exception:
                results[name] = False
        ready = bool(results) and all(results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        # OpenMetrics when the scraper asks for it (Prometheus does): only it carries exemplars.
        encode, media_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), media_type=media_type)

    return router
