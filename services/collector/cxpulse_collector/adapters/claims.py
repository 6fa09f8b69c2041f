"""Loss-free de-duplication in Redis: claim an event id, publish, then confirm or release.

A claim is `pending:<request token>` until the broker acknowledged the event, then `published`
for at least 72 h. Only the request holding a pending claim may confirm or release it, so a
claim that expired and was taken over by a retry is never clobbered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import redis.asyncio
from redis.crc import key_slot

KEY_PREFIX = "cx:collector:event:"
PUBLISHED = b"published"

# Each script takes every key of one Redis Cluster slot at once: one round trip per slot and step.
_CLAIM = """
local results = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    results[i] = 1
  elseif redis.call('GET', key) == 'published' then
    results[i] = 2
  else
    results[i] = 3
  end
end
return results
"""
_CONFIRM = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('SET', key, 'published', 'PX', ARGV[2]) end
end
return 0
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


class ClaimOutcome(enum.Enum):
    CLAIMED = 1
    ALREADY_PUBLISHED = 2
    IN_FLIGHT = 3


def keys_by_slot(event_ids: Sequence[str], *, clustered: bool) -> dict[int, list[tuple[int, str]]]:
    """(position, key) pairs per script call: one call on a single Redis, one per slot on a cluster."""
    groups: dict[int, list[tuple[int, str]]] = {}
    for position, event_id in enumerate(event_ids):
        key = KEY_PREFIX + event_id
        groups.setdefault(key_slot(key.encode()) if clustered else 0, []).append((position, key))
    return groups


class RedisEventClaims:
    """One script call per cluster slot and step (a single call for a single event)."""

    def __init__(
        self, client: redis.asyncio.Redis | redis.asyncio.RedisCluster, *, pending_ttl_s: int, published_ttl_s: int
    ) -> None:
        self._client = client
        self._clustered = isinstance(client, redis.asyncio.RedisCluster)
        self._pending_ttl_ms = str(pending_ttl_s * 1000)
        self._published_ttl_ms = str(published_ttl_s * 1000)
        self._claim = client.register_script(_CLAIM)
        self._confirm = client.register_script(_CONFIRM)
        self._release = client.register_script(_RELEASE)

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        outcomes: list[ClaimOutcome] = [ClaimOutcome.IN_FLIGHT] * len(event_ids)
        for group in keys_by_slot(event_ids, clustered=self._clustered).values():
            results = await self._claim(keys=[key for _, key in group], args=[f"pending:{token}", self._pending_ttl_ms])
            for (position, _), result in zip(group, results, strict=True):
                outcomes[position] = ClaimOutcome(int(result))
        return outcomes

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        for group in keys_by_slot(event_ids, clustered=self._clustered).values():
            await self._confirm(keys=[key for _, key in group], args=[f"pending:{token}", self._published_ttl_ms])

    async def release(self, event_ids: Sequence[str], token: str) -> None:
        for group in keys_by_slot(event_ids, clustered=self._clustered).values():
            await self._release(keys=[key for _, key in group], args=[f"pending:{token}"])

    async def ping(self) -> bool:
        return bool(await self._client.ping())
