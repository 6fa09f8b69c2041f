"""Tracing is configured only through the standard OTEL_* variables."""

from __future__ import annotations

import pytest

from cxpulse_shared.telemetry import make_tracer_provider, wants_otlp


@pytest.mark.parametrize(
    ("environ", "exports"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
    ],
)
def test_otlp_export_follows_the_standard_variables(environ: dict[str, str], exports: bool) -> None:
    assert wants_otlp(environ) is exports


def test_provider_exports_over_otlp_when_asked() -> None:
    quiet = make_tracer_provider("svc", environ={})
    exporting = make_tracer_provider("svc", environ={"OTEL_TRACES_EXPORTER": "otlp"})
    assert (
        len(exporting._active_span_processor._span_processors) == len(quiet._active_span_processor._span_processors) + 1
    )
    assert exporting.resource.attributes["service.name"] == "svc"
    quiet.shutdown()
    exporting.shutdown()
