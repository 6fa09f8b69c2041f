"""What every source adapter test needs: the documented sample payloads and request builders."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cxpulse_collector.sources.base import ChannelContext, SourceRequest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sources"
#: The collector's clock in every test; signed timestamps are built from it.
NOW = datetime(2024, 5, 2, 14, 5, tzinfo=UTC)

RequestBuilder = Callable[..., SourceRequest]


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def fixture_bytes() -> Callable[[str, str], bytes]:
    def read(slug: str, name: str) -> bytes:
        return (FIXTURES / slug / name).read_bytes()

    return read


@pytest.fixture
def fixture_payload() -> Callable[[str, str], Any]:
    def read(slug: str, name: str) -> Any:
        return json.loads((FIXTURES / slug / name).read_bytes())

    return read


@pytest.fixture
def make_request() -> RequestBuilder:
    def build(
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        query: Mapping[str, str] | None = None,
    ) -> SourceRequest:
        return SourceRequest(
            method=method,
            url="https://collector.example/v1/webhooks/source?channel=web",
            headers={name.lower(): value for name, value in (headers or {}).items()},
            query=dict(query or {}),
            body=body,
        )

    return build


@pytest.fixture
def channel() -> Callable[..., ChannelContext]:
    def build(**options: Any) -> ChannelContext:
        return ChannelContext(name="web", brand="acme-air", options=options)

    return build
