"""Per-channel request rate limit shared by every collector replica (GCRA in Redis)."""

from __future__ import annotations

import math

import redis.asyncio

# GCRA: one key per channel holding the theoretical arrival time; returns the wait in ms (0 = allowed).
_GCRA = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local interval = tonumber(ARGV[1])
local burst_allowance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_ms)
if tat < now_ms then tat = now_ms end
local allow_at = tat - burst_allowance
if now_ms < allow_at then return allow_at - now_ms end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now_ms + interval))
return 0
"""


class RedisRateLimiter:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._script = client.register_script(_GCRA)

    async def wait_seconds(self, key: str, *, per_second: float, burst: int) -> float:
        """0 when the request may go ahead, else how long until it may."""
        interval_ms = 1000.0 / per_second
        wait_ms = await self._script(keys=[f"cx:collector:rate:{key}"], args=[interval_ms, interval_ms * (burst - 1)])
        return math.ceil(float(wait_ms)) / 1000.0
