"""Loss-free de-duplication in Redis: claim an event id, publish, then confirm or release.

A claim is `pending:<batch token>` until the broker acknowledged the event, then `published`
for at least 72 h. Only the batch holding a pending claim may confirm or release it, so a
claim that expired and was taken over by a retry is never clobbered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import redis.asyncio
from redis.commands.core import AsyncScript
from redis.crc import key_slot

KEY_PREFIX = "cx:collector:event:"

# Scripts, so that one round trip claims, confirms or releases every event of a batch.
_CLAIM = """
local results = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[2], 'NX', 'PX', ARGV[1]) then
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
  if redis.call('GET', key) == ARGV[2] then redis.call('SET', key, 'published', 'PX', ARGV[1]) end
end
return 0
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2] then redis.call('DEL', key) end
end
return 0
"""


class ClaimOutcome(enum.Enum):
    CLAIMED = 1
    ALREADY_PUBLISHED = 2
    IN_FLIGHT = 3


class RedisEventClaims:
    """Each call is one script run (one per slot on a cluster), whatever the number of events."""

    def __init__(
        self,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        *,
        pending_ttl_s: int,
        published_ttl_s: int,
    ) -> None:
        self._client = client
        self._clustered = isinstance(client, redis.asyncio.RedisCluster)
        self._pending_ttl_ms = str(pending_ttl_s * 1000)
        self._published_ttl_ms = str(published_ttl_s * 1000)
        self._claim = client.register_script(_CLAIM)
        self._confirm = client.register_script(_CONFIRM)
        self._release = client.register_script(_RELEASE)

    async def _run(self, script: AsyncScript, event_ids: Sequence[str], ttl_ms: str, token: str) -> list[int]:
        keys = [KEY_PREFIX + event_id for event_id in event_ids]
        results = [0] * len(keys)
        for group in self._by_slot(keys).values():
            answer = await script(keys=[keys[i] for i in group], args=[ttl_ms, f"pending:{token}"])
            if isinstance(answer, list):
                for position, value in zip(group, answer, strict=True):
                    results[position] = int(value)
        return results

    def _by_slot(self, keys: list[str]) -> dict[int, list[int]]:
        """One script run on a single Redis; one per slot on a cluster, as multi-key scripts require."""
        groups: dict[int, list[int]] = {}
        for position, key in enumerate(keys):
            groups.setdefault(key_slot(key.encode()) if self._clustered else 0, []).append(position)
        return groups

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        if not event_ids:
            return []
        results = await self._run(self._claim, event_ids, self._pending_ttl_ms, token)
        return [ClaimOutcome(result) for result in results]

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        if event_ids:
            await self._run(self._confirm, event_ids, self._published_ttl_ms, token)

    async def release(self, event_ids: Sequence[str], token: str) -> None:
        if event_ids:
            await self._run(self._release, event_ids, "0", token)

    async def ping(self) -> bool:
        return bool(await self._client.ping())
