"""Baseline one of the collector benchmark: the collector's checks with nothing behind them.

It verifies the Standard Webhooks signature and validates the body with the collector's own
parsers, exactly as the collector does, and then answers 202 without Redis or Kafka. Measured
side by side with the collector, the gap between the two is what claiming, publishing and
waiting for the broker's acknowledgement cost.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from standardwebhooks import Webhook

from cxpulse_collector.config import CollectorSettings
from cxpulse_collector.runtime import build_parsers

# The collector's own default, so both accept and reject the same batches.
MAX_BATCH_EVENTS: int = CollectorSettings.model_fields["max_batch_events"].default


def create_app(secret: str | None = None) -> FastAPI:
    # The demo channel's secret, which `start_stack` puts in the environment of what it starts.
    verifier = Webhook(secret or os.environ["DEMO_WEBHOOK_SECRET"])
    parsers = build_parsers(MAX_BATCH_EVENTS)
    single_parser = parsers[("survey", False)]
    batch_parser = parsers[("survey", True)]

    def signed(body: bytes, headers: Mapping[str, str]) -> bool:
        # Lower-cased the way `CollectorRuntime.verify_signature` does it, to cost the same.
        plain_headers = {name.lower(): value for name, value in headers.items()}
        try:
            verifier.verify(body, plain_headers, json_parse=False)
        except Exception:
            return False
        return True

    app = FastAPI(title="cxpulse collector baseline", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/readyz")
    async def readyz() -> dict[str, bool]:
        return {"ready": True}

    @app.post("/v1/surveys", status_code=202)
    async def post_surveys(request: Request, channel: str) -> JSONResponse:
        body = await request.body()
        if not signed(body, request.headers):
            return JSONResponse({"title": "Signature verification failed"}, status_code=401)
        is_batch = body.lstrip().startswith(b"[")
        try:
            parsed: Any = (batch_parser if is_batch else single_parser).validate_json(body)
        except ValidationError as error:
            return JSONResponse({"errors": error.error_count()}, status_code=422)
        accepted = len(parsed) if is_batch else 1
        return JSONResponse({"accepted": accepted, "duplicates": 0, "channel": channel}, status_code=202)

    return app
