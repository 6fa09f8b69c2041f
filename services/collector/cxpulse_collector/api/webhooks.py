"""The webhook endpoints: Standard Webhooks for our own format, native schemes for sources."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import redis.exceptions
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace
from pydantic import BaseModel, ValidationError

from cxpulse_collector.config import Channel
from cxpulse_collector.domain.ingest import Submission, brands_outside_scope, overlong_texts, to_event
from cxpulse_collector.runtime import CollectorRuntime
from cxpulse_collector.service import EventsInFlight
from cxpulse_collector.sources.base import ChannelContext, PayloadInvalid, SignatureInvalid, SourceRequest
from cxpulse_contracts import topics
from cxpulse_shared.cloudevents import current_trace_carrier
from cxpulse_shared.kafka import PublishFailed
from cxpulse_shared.problem import Problem, validation_errors

ChannelName = Annotated[str, Query(min_length=1, max_length=64, description="the configured channel sending")]


class Accepted(BaseModel):
    accepted: int
    duplicates: int
    event_ids: list[str]


def runtime(request: Request) -> CollectorRuntime:
    """Read here rather than through `Depends`: solving the dependency took 8% of the collector's CPU (profiled)."""
    state: CollectorRuntime = request.app.state.collector
    return state


router = APIRouter(prefix="/v1", tags=["webhooks"])
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/problem+json": {}}}
    for status, description in {
        400: "Malformed JSON",
        401: "Bad or missing signature, stale timestamp, unknown channel",
        403: "The channel may not post for this brand",
        404: "Unknown source",
        405: "The source has no challenge",
        413: "Body, batch or a text field over its limit",
        415: "Not JSON",
        422: "Invalid events, with every field error",
        429: "Over the channel's rate limit",
        503: "Broker or Redis unavailable; retry after Retry-After",
    }.items()
}


def unauthenticated(detail: str) -> Problem:
    # One answer for unknown channels and bad signatures, so channel names cannot be probed.
    return Problem(401, "unauthenticated", "Signature verification failed", detail)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "body-too-large", "Body too large", f"the body limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "body-too-large", "Body too large", f"the body limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Body must be JSON", "send Content-Type: application/json")


def find_channel(state: CollectorRuntime, name: str) -> Channel:
    channel = state.channels.get(name)
    if channel is None:
        raise unauthenticated("unknown channel or bad signature")
    return channel


async def enforce_rate_limit(state: CollectorRuntime, channel: Channel) -> None:
    if channel.rate_limit_per_s is None:
        return
    wait_s = await guarded(
        state,
        state.rate_limiter.wait_seconds(channel.name, per_second=channel.rate_limit_per_s, burst=channel.burst),
    )
    if wait_s > 0:
        state.metrics.rejections.labels("rate_limited").inc()
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"channel {channel.name} is limited to {channel.rate_limit_per_s:g} requests/s",
            headers={"Retry-After": str(max(1, round(wait_s + 0.5)))},
        )


async def guarded(state: CollectorRuntime, operation: Any) -> Any:
    """Redis calls are bounded: a slow or absent Redis becomes a 503, never a hung request."""
    try:
        return await asyncio.wait_for(operation, state.settings.redis_timeout_s)
    except (TimeoutError, redis.exceptions.RedisError, OSError) as error:
        raise unavailable(state, "redis", f"Redis unavailable: {type(error).__name__}") from error


def unavailable(state: CollectorRuntime, reason: str, detail: str) -> Problem:
    state.metrics.rejections.labels(f"{reason}_unavailable").inc()
    return Problem(
        503,
        "unavailable",
        "Temporarily unavailable",
        detail,
        headers={"Retry-After": str(state.settings.retry_after_s)},
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key {next(key for key in keys if keys.count(key) > 1)!r}")
    return dict(pairs)


def _not_a_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def reject_ambiguous_json(state: CollectorRuntime, body: bytes) -> None:
    """pydantic reads duplicate keys (the last one wins) and NaN or Infinity; JSON has neither, and
    a signed body must mean the same to every reader. Run on bodies that validated only."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_not_a_json_constant)
    except ValueError as error:
        state.metrics.rejections.labels("malformed_json").inc()
        raise Problem(400, "malformed-json", "Malformed JSON", str(error)) from None


def parse_submissions(state: CollectorRuntime, kind: str, body: bytes) -> list[Submission]:
    stripped = body.lstrip()
    is_batch = stripped.startswith(b"[")
    parser = state.parsers[(kind, is_batch)]
    try:
        # Strict: the published schema's types, so `true` is not a count and "9" is not a score.
        parsed = parser.validate_json(body, strict=True)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        if any(item["type"] == "json_invalid" for item in errors):
            state.metrics.rejections.labels("malformed_json").inc()
            raise Problem(400, "malformed-json", "Malformed JSON", str(errors[0]["msg"])) from None
        if any(item["type"] == "too_long" and not item["loc"] for item in errors):
            state.metrics.rejections.labels("batch_too_large").inc()
            raise Problem(
                413,
                "batch-too-large",
                "Batch too large",
                f"a batch holds at most {state.settings.max_batch_events} events",
            ) from None
        state.metrics.rejections.labels("invalid").inc()
        raise Problem(422, "invalid-events", "Invalid events", errors=validation_errors(errors)) from None
    reject_ambiguous_json(state, body)
    submissions: list[Submission] = list(parsed) if is_batch else [parsed]
    if not submissions:
        state.metrics.rejections.labels("invalid").inc()
        raise Problem(422, "invalid-events", "Invalid events", "a batch needs at least one event")
    return submissions


async def accept(state: CollectorRuntime, channel: Channel, submissions: Sequence[Submission]) -> JSONResponse:
    too_long = overlong_texts(submissions, max_chars=state.settings.max_text_chars)
    if too_long:
        state.metrics.rejections.labels("text_too_long").inc()
        raise Problem(
            413,
            "text-too-long",
            "Text field too long",
            f"text fields hold at most {state.settings.max_text_chars} characters",
            errors=[
                {"pointer": f"/{item.index}/{item.field}", "detail": f"{item.length} characters"} for item in too_long
            ],
        )
    foreign = brands_outside_scope(submissions, channel.brands)
    if foreign:
        state.metrics.rejections.labels("brand_not_allowed").inc()
        raise Problem(
            403,
            "brand-not-allowed",
            "Brand outside the channel's scope",
            f"channel {channel.name} may not post for: {', '.join(foreign)}",
        )
    received_at = datetime.now(UTC)
    events = [
        to_event(
            submission,
            source=channel.source,
            channel=channel.name,
            pseudonymisation_key=state.pseudonymisation_key,
            received_at=received_at,
        )
        for submission in submissions
    ]
    try:
        result = await state.ingest.ingest(events, channel=channel.name, trace_carrier=current_trace_carrier())
    except PublishFailed as error:
        raise unavailable(state, "broker", "the broker did not acknowledge in time") from error
    except (TimeoutError, redis.exceptions.RedisError, OSError) as error:
        raise unavailable(state, "redis", f"Redis unavailable: {type(error).__name__}") from error
    except EventsInFlight:
        raise unavailable(state, "in_flight", "some events are being published by a concurrent request") from None
    return JSONResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates, "event_ids": result.event_ids},
        status_code=202,
    )


async def receive_own_format(state: CollectorRuntime, request: Request, channel_name: str, kind: str) -> JSONResponse:
    tracer = state.tracer
    with tracer.start_as_current_span(
        f"POST /v1/{kind}s",
        context=propagate.extract(request.headers),
        kind=trace.SpanKind.SERVER,
        attributes={"cx.channel": channel_name},
    ) as span:
        channel = find_channel(state, channel_name)
        body = await read_body(request, state.settings.max_body_bytes)
        try:
            signed = state.verify_signature(channel, body, request.headers)
        except UnicodeDecodeError:
            state.metrics.rejections.labels("malformed_json").inc()
            raise Problem(400, "malformed-json", "Malformed JSON", "the body is not UTF-8, as JSON must be") from None
        if not signed:
            state.metrics.rejections.labels("signature").inc()
            raise unauthenticated("unknown channel, bad signature or timestamp outside the 5-minute tolerance")
        await enforce_rate_limit(state, channel)
        require_json(request)
        submissions = parse_submissions(state, kind, body)
        span.set_attributes(
            {
                "cx.events": len(submissions),
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topics.FEEDBACK,
                "messaging.batch.message_count": len(submissions),
            }
        )
        return await accept(state, channel, submissions)


@router.post(
    "/surveys",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEM_RESPONSES,
    summary="Survey responses (NPS, CSAT, CES): one or a batch of up to 1,000",
)
async def post_surveys(request: Request, channel: ChannelName) -> JSONResponse:
    return await receive_own_format(runtime(request), request, channel, "survey")


@router.post(
    "/mentions",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEM_RESPONSES,
    summary="Social media mentions: one or a batch of up to 1,000",
)
async def post_mentions(request: Request, channel: ChannelName) -> JSONResponse:
    return await receive_own_format(runtime(request), request, channel, "mention")


def source_request(request: Request, body: bytes) -> SourceRequest:
    return SourceRequest(
        method=request.method,
        url=str(request.url),
        headers={name.lower(): value for name, value in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )


def source_channel(state: CollectorRuntime, source: str, channel_name: str) -> Channel:
    if source not in state.sources:
        raise Problem(404, "unknown-source", "Unknown source", f"no adapter for source {source!r}")
    channel = find_channel(state, channel_name)
    if channel.source != source:
        raise unauthenticated("the channel does not speak for this source")
    return channel


@router.post(
    "/webhooks/{source}",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEM_RESPONSES,
    summary="Source-native webhooks (typeform, formbricks, delighted, zendesk, x)",
)
async def post_source_webhook(request: Request, source: str, channel: ChannelName) -> JSONResponse:
    state = runtime(request)
    with state.tracer.start_as_current_span(
        f"POST /v1/webhooks/{source}", context=propagate.extract(request.headers), kind=trace.SpanKind.SERVER
    ):
        channel_config = source_channel(state, source, channel)
        adapter = state.sources[source]
        body = await read_body(request, state.settings.max_body_bytes)
        secrets = [secret.get_secret_value() for secret in channel_config.secrets]
        try:
            adapter.verify(source_request(request, body), secrets, now=datetime.now(UTC))
        except SignatureInvalid as error:
            state.metrics.rejections.labels("signature").inc()
            raise unauthenticated(str(error)) from None
        await enforce_rate_limit(state, channel_config)
        require_json(request)
        try:
            payload = state.json_parser.validate_json(body)
        except ValidationError as error:
            state.metrics.rejections.labels("malformed_json").inc()
            raise Problem(400, "malformed-json", "Malformed JSON", str(error.errors()[0]["msg"])) from None
        reject_ambiguous_json(state, body)
        context = ChannelContext(
            name=channel_config.name, brand=channel_config.default_brand or "", options=channel_config.options
        )
        try:
            submissions = adapter.parse(payload, context)
        except PayloadInvalid as error:
            state.metrics.rejections.labels("invalid").inc()
            raise Problem(
                422,
                "invalid-events",
                "Invalid source payload",
                errors=[{"pointer": "", "detail": reason} for reason in error.errors],
            ) from None
        if not submissions:
            return JSONResponse({"accepted": 0, "duplicates": 0, "event_ids": []}, status_code=202)
        return await accept(state, channel_config, submissions)


@router.get("/webhooks/{source}", responses=PROBLEM_RESPONSES, summary="A source's challenge (e.g. X's CRC)")
async def get_source_challenge(request: Request, source: str, channel: ChannelName) -> JSONResponse:
    state = runtime(request)
    channel_config = source_channel(state, source, channel)
    adapter = state.sources[source]
    if not adapter.answers_challenge:
        raise Problem(405, "method-not-allowed", "This source has no challenge")
    secrets = [secret.get_secret_value() for secret in channel_config.secrets]
    try:
        answer = adapter.challenge(source_request(request, b""), secrets)
    except SignatureInvalid as error:
        raise Problem(400, "bad-challenge", "Bad challenge", str(error)) from None
    return JSONResponse(answer)
