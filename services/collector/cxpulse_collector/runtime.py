"""Everything a request handler needs, assembled once by the app's lifespan (or by a test)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from opentelemetry.trace import Tracer
from pydantic import Field, TypeAdapter
from standardwebhooks import Webhook

from cxpulse_collector.config import Channel, CollectorSettings
from cxpulse_collector.metrics import CollectorMetrics
from cxpulse_collector.service import IngestService
from cxpulse_collector.sources.base import SourceAdapter
from cxpulse_contracts import MentionSubmission, SurveySubmission


class RateLimiter(Protocol):
    async def wait_seconds(self, key: str, *, per_second: float, burst: int) -> float: ...


def build_parsers(max_batch: int) -> dict[tuple[str, bool], TypeAdapter[Any]]:
    """Validation straight from bytes (pydantic-core parses and validates in one pass)."""
    return {
        ("survey", False): TypeAdapter(SurveySubmission),
        ("mention", False): TypeAdapter(MentionSubmission),
        ("survey", True): TypeAdapter(Annotated[list[SurveySubmission], Field(max_length=max_batch)]),
        ("mention", True): TypeAdapter(Annotated[list[MentionSubmission], Field(max_length=max_batch)]),
    }


@dataclass
class CollectorRuntime:
    settings: CollectorSettings
    channels: Mapping[str, Channel]
    sources: Mapping[str, SourceAdapter]
    ingest: IngestService
    rate_limiter: RateLimiter
    metrics: CollectorMetrics
    tracer: Tracer
    pseudonymisation_key: bytes
    parsers: dict[tuple[str, bool], TypeAdapter[Any]] = field(init=False)
    json_parser: TypeAdapter[Any] = field(init=False)
    _verifiers: dict[str, list[Webhook]] = field(init=False)

    def __post_init__(self) -> None:
        self.parsers = build_parsers(self.settings.max_batch_events)
        self.json_parser = TypeAdapter(Any)
        self._verifiers = {
            name: [Webhook(secret.get_secret_value()) for secret in channel.secrets]
            for name, channel in self.channels.items()
        }

    def verify_signature(self, channel: Channel, body: bytes, headers: Mapping[str, str]) -> bool:
        """Standard Webhooks with any of the channel's secrets (several during a rotation).

        Raises UnicodeDecodeError for a body that is not UTF-8: Standard Webhooks signs text, and
        JSON is UTF-8, so such a body is malformed whoever signed it.
        """
        text = body.decode()
        plain_headers = {name.lower(): value for name, value in headers.items()}
        for verifier in self._verifiers.get(channel.name, []):
            try:
                verifier.verify(text, plain_headers, json_parse=False)
            except Exception:  # noqa: S112 - any malformed header or body is simply "not signed by this secret"
                continue
            return True
        return False
