"""CloudEvents 1.0 Kafka protocol binding, binary mode, with W3C trace context in the headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from opentelemetry import propagate

SPEC_VERSION = b"1.0"
JSON_CONTENT_TYPE = b"application/json"

Headers = list[tuple[str, bytes]]


def cloudevent_headers(
    *, event_id: str, source: str, event_type: str, time: datetime, trace_carrier: Mapping[str, str]
) -> Headers:
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", JSON_CONTENT_TYPE),
    ]
    headers.extend((name, value.encode()) for name, value in trace_carrier.items())
    return headers


def current_trace_carrier() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the active span, computed once per request."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def headers_as_dict(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    return {name: (value or b"").decode("utf-8", "replace") for name, value in headers}
