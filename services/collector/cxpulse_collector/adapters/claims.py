"""Loss-free de-duplication in Redis: claim an event id, publish, then confirm or release.

A claim is `pending:<request token>` until the broker acknowledged the event, then `published`
for at least 72 h. Only the request holding a pending claim may confirm or release it, so a
claim that expired and was taken over by a retry is never clobbered.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio
from redis.commands.core import AsyncScript
from redis.crc import key_slot

KEY_PREFIX = "cx:collector:event:"

# Each script takes keys with one token per key (ARGV[1 + i] for KEYS[i]), so the claims of
# many concurrent requests share one round trip.
_CLAIM = """
local results = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[i + 1], 'NX', 'PX', ARGV[1]) then
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
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then redis.call('SET', key, 'published', 'PX', ARGV[1]) end
end
return 0
"""
_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then redis.call('DEL', key) end
end
return 0
"""


class ClaimOutcome(enum.Enum):
    CLAIMED = 1
    ALREADY_PUBLISHED = 2
    IN_FLIGHT = 3


ScriptRun = Callable[[list[str], list[str]], Awaitable[list[int]]]


class _Coalescer:
    """Joins the calls made during one turn of the event loop into one script run per slot.

    Under load many requests reach the same step at once; each would otherwise pay a Redis
    round trip, which costs more CPU in redis-py than the rest of the request.
    """

    def __init__(self, run: ScriptRun) -> None:
        self._run = run
        self._waiting: list[tuple[list[str], str, asyncio.Future[list[int]]]] = []
        self._flushing: set[asyncio.Future[None]] = set()

    async def submit(self, keys: list[str], token: str) -> list[int]:
        answer: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        if not self._waiting:
            # A new task's first step runs on the loop's next turn, after every call of this turn.
            flush = asyncio.ensure_future(self._flush())
            self._flushing.add(flush)  # the loop keeps only weak references to tasks
            flush.add_done_callback(self._flushing.discard)
        self._waiting.append((keys, token, answer))
        return await answer

    async def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        keys = [key for call_keys, _, _ in batch for key in call_keys]
        tokens = [token for call_keys, token, _ in batch for _ in call_keys]
        try:
            results = await self._run(keys, tokens)
        except BaseException as error:
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            return
        offset = 0
        for call_keys, _, answer in batch:
            if not answer.done():
                answer.set_result(results[offset : offset + len(call_keys)])
            offset += len(call_keys)


class RedisEventClaims:
    """Claims, confirms and releases of concurrent requests share round trips (see _Coalescer)."""

    def __init__(
        self,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        *,
        pending_ttl_s: int,
        published_ttl_s: int,
    ) -> None:
        self._client = client
        self._clustered = isinstance(client, redis.asyncio.RedisCluster)
        pending_ttl_ms = str(pending_ttl_s * 1000)
        published_ttl_ms = str(published_ttl_s * 1000)
        self._claims = _Coalescer(self._runner(client.register_script(_CLAIM), pending_ttl_ms))
        self._confirms = _Coalescer(self._runner(client.register_script(_CONFIRM), published_ttl_ms))
        self._releases = _Coalescer(self._runner(client.register_script(_RELEASE), "0"))

    def _runner(self, script: AsyncScript, ttl_ms: str) -> ScriptRun:
        async def run(keys: list[str], tokens: list[str]) -> list[int]:
            results = [0] * len(keys)
            for group in self._by_slot(keys).values():
                answer = await script(keys=[keys[i] for i in group], args=[ttl_ms, *(tokens[i] for i in group)])
                if isinstance(answer, list):
                    for position, value in zip(group, answer, strict=True):
                        results[position] = int(value)
            return results

        return run

    def _by_slot(self, keys: list[str]) -> dict[int, list[int]]:
        """One script run on a single Redis; one per slot on a cluster, as multi-key scripts require."""
        groups: dict[int, list[int]] = {}
        for position, key in enumerate(keys):
            groups.setdefault(key_slot(key.encode()) if self._clustered else 0, []).append(position)
        return groups

    async def claim(self, event_ids: Sequence[str], token: str) -> list[ClaimOutcome]:
        results = await self._claims.submit([KEY_PREFIX + event_id for event_id in event_ids], f"pending:{token}")
        return [ClaimOutcome(result) for result in results]

    async def confirm(self, event_ids: Sequence[str], token: str) -> None:
        if event_ids:
            await self._confirms.submit([KEY_PREFIX + event_id for event_id in event_ids], f"pending:{token}")

    async def release(self, event_ids: Sequence[str], token: str) -> None:
        if event_ids:
            await self._releases.submit([KEY_PREFIX + event_id for event_id in event_ids], f"pending:{token}")

    async def ping(self) -> bool:
        return bool(await self._client.ping())
