"""Loss-free de-duplication in Redis: claim an event id, publish, then confirm or release.

A claim is `pending:<request token>` until the broker acknowledged the event, then `published`
for at least 72 h. Only the request holding a pending claim may confirm or release it, so a
claim that expired and was taken over by a retry is never clobbered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import redis.asyncio

KEY_PREFIX = "cx:collector:event:"
PUBLISHED = b"published"

_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local current = redis.call('GET', KEYS[1])
if current == 'published' then return 2 end
return 3
"""
_CONFIRM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'published', 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClaimOutcome(enum.Enum):
    CLAIMED = 1
    ALREADY_PUBLISHED = 2
    IN_FLIGHT = 3


class RedisEventClaims:
    """One pipelined round trip per step; per-key scripts keep it valid on Redis Cluster."""

    def __init__(self, client: redis.asyncio.Redis, *, pending_ttl_s: int, published_ttl_s: int) -> None:
        self._client = client
        self._pending_ttl_ms = str(pending_ttl_s * 1000)
        self._published_ttl_ms = str(published_ttl_s * 1000)
        self._claim = client.register_script(_CLAIM)
        self._confirm = client.register_script(_CONFIRM)
        self._release = client.register_script(_RELEASE)

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        results = await self._run(self._claim, event_ids, [f"pending:{token}", self._pending_ttl_ms])
        return [ClaimOutcome(int(result)) for result in results]

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        await self._run(self._confirm, event_ids, [f"pending:{token}", self._published_ttl_ms])

    async def release(self, event_ids: Sequence[str], token: str) -> None:
        await self._run(self._release, event_ids, [f"pending:{token}"])

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def _run(self, script: object, event_ids: Sequence[str], args: list[str]) -> list[Any]:
        if not event_ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                await script(keys=[KEY_PREFIX + event_id], args=args, client=pipe)  # type: ignore[operator]
            return list(await pipe.execute())
