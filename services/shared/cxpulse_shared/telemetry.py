"""Tracing and metrics set-up. Each app gets its own registry and tracer provider, never globals."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from cxpulse_shared.settings import TelemetrySettings


def make_tracer_provider(default_service_name: str, settings: TelemetrySettings | None = None) -> TracerProvider:
    """A real SDK provider even without an exporter: trace ids must exist to ride in Kafka headers."""
    settings = settings or TelemetrySettings()
    resource = Resource.create({SERVICE_NAME: settings.service_name or default_service_name})
    return TracerProvider(resource=resource)


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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(
        logging.Formatter(
            '{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s",'
            '"trace_id":"%(trace_id)s","msg":"%(message)s"}'
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
