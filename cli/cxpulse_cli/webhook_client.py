"""Signs and posts feedback to the collector the way a channel does (Standard Webhooks)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook


def signed_headers(
    secret: str, body: bytes, *, timestamp: float | None = None, msg_id: str | None = None
) -> dict[str, str]:
    """Every delivery gets its own `webhook-id`: it names the delivery, not the event."""
    sent_at = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, tz=UTC)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(msg_id, sent_at, body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class CollectorClient:
    def __init__(self, base_url: str, *, channel: str, secret: str, timeout_s: float = 30.0) -> None:
        self._channel = channel
        self._secret = secret
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def post(self, kind: str, payload: Any, *, extra_headers: Mapping[str, str] | None = None) -> httpx.Response:
        body = encode(payload)
        headers = {**signed_headers(self._secret, body), **(extra_headers or {})}
        return self._http.post(f"/v1/{kind}s", params={"channel": self._channel}, content=body, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncCollectorClient:
    def __init__(
        self, base_url: str, *, channel: str, secret: str, timeout_s: float = 30.0, connections: int = 64
    ) -> None:
        self._channel = channel
        self._secret = secret
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits)

    async def post(self, kind: str, payload: Any) -> httpx.Response:
        body = encode(payload)
        return await self._http.post(
            f"/v1/{kind}s",
            params={"channel": self._channel},
            content=body,
            headers=signed_headers(self._secret, body),
        )

    async def aclose(self) -> None:
        await self._http.aclose()
