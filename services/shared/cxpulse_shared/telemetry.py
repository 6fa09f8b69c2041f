"""Tracing and metrics set-up. Each app gets its own registry and tracer provider, never globals."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

from cxpulse_shared.settings import TelemetrySettings

# Our apps make their own spans with their own provider. FastAPI's native telemetry would look for a
# global provider on every request (environment look-ups: 5% of the collector's CPU, measured) and,
# if one were ever set, add a second server span per request.
FASTAPI_NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def make_tracer_provider(
    default_service_name: str, settings: TelemetrySettings | None = None, environ: Mapping[str, str] | None = None
) -> TracerProvider:
    """A real SDK provider even without an exporter: trace ids must exist to ride in Kafka headers.

    Spans are exported over OTLP/HTTP when the standard variables ask for it
    (`OTEL_TRACES_EXPORTER=otlp`, or an `OTEL_EXPORTER_OTLP_*ENDPOINT`); the exporter reads its
    endpoint, headers and timeouts from the same standard variables.
    """
    settings = settings or TelemetrySettings()
    environment = os.environ if environ is None else environ
    resource = Resource.create({SERVICE_NAME: settings.service_name or default_service_name})
    provider = TracerProvider(resource=resource)
    if wants_otlp(environment):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def wants_otlp(environ: Mapping[str, str]) -> bool:
    exporters = {name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")}
    if "none" in exporters:
        return False
    endpoint_set = any(
        environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    return "otlp" in exporters or endpoint_set


def current_trace_exemplar() -> dict[str, str] | None:
    """The active span's trace id as a Prometheus exemplar, linking a latency sample to its trace."""
    context = trace.get_current_span().get_span_context()
    return {"trace_id": format(context.trace_id, "032x")} if context.is_valid and context.trace_flags.sampled else None


def tracer_for(provider: TracerProvider, name: str) -> trace.Tracer:
    return provider.get_tracer(name)


def make_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` to every log record so logs and traces can be joined."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the trace id, so log pipelines need no parsing rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "trace_id": getattr(record, "trace_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """JSON logs on stderr, unless whoever hosts the app (a test runner, an embedding program)
    has configured logging already; theirs wins."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(JsonLogFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # kafka-python reports every connection and group-coordination step at INFO; its warnings suffice.
    # httpx logs each request's full URL at INFO, and a receiver's URL can be its secret (Slack).
    for library in ("kafka", "httpx", "httpcore"):
        logging.getLogger(library).setLevel(max(logging.WARNING, root.level))
