"""Redis clients built from settings; callers own their lifecycle (open in lifespan, close after)."""

from __future__ import annotations

import redis
import redis.asyncio

from cxpulse_shared.settings import RedisSettings


def make_async_redis(settings: RedisSettings) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        settings.url.get_secret_value(),
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=15,
    )


def make_redis(settings: RedisSettings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.url.get_secret_value(),
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=15,
    )


def as_text(value: object) -> str:
    """redis-py answers bytes (or str with decode_responses); callers want text either way."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
