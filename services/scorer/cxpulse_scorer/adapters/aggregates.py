"""Aggregates in Redis, applied at most once per event and read back by window, period and stage.

Every key of a brand carries the hash tag `{brand}`, so one script per brand and batch touches a
single Redis Cluster slot. A script marks each event as applied and adds its counts atomically:
a crash before the Kafka transaction commits replays the batch, and the replay adds nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import redis

from cxpulse_scorer.domain.pnl import PnlCounts
from cxpulse_scorer.domain.satisfaction import (
    ALL_STAGES,
    COARSE_BUCKET,
    FINE_BUCKET,
    SatisfactionCounts,
    floor_to,
    window_buckets,
)
from cxpulse_scorer.domain.scoring import Contribution
from cxpulse_shared.redis import as_text

APPLIED_NOW, REDELIVERED, DUPLICATE = 1, 2, 0
FINE_TTL_S = int(timedelta(days=2).total_seconds())
COARSE_TTL_S = int(timedelta(days=40).total_seconds())
DAY_TTL_S = int(timedelta(days=400).total_seconds())
APPLIED_TTL_S = int(timedelta(days=40).total_seconds())
BRANDS_KEY = "cx:scorer:brands"

# ARGV: applied_ttl, event_count, then per event: event_id, source_position and its operations as a
# JSON list of [op (h = HINCRBY, z = ZINCRBY, s = SADD), key, field or member, amount, ttl]. The
# increments of the batch's new events are summed in the script first, so each key and field is
# written once per batch however many events touch it.
# Returns per event: 1 applied now, 2 applied earlier by this same source record (a redelivery
# after a crash: produce its output again), 0 a duplicate of another record (skip it).
_APPLY = """
local prefix = KEYS[1]
local applied_ttl = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local results = {}
local hash_sums, hash_keys = {}, {}
local zset_sums, zset_keys = {}, {}
local members = {}
local expiries = {}
for e = 1, count do
  local base = 3 * e
  local event_key = prefix .. 'applied:' .. ARGV[base]
  local position = ARGV[base + 1]
  local existing = redis.call('GET', event_key)
  if existing then
    if existing == position then results[e] = 2 else results[e] = 0 end
  else
    redis.call('SET', event_key, position, 'EX', applied_ttl)
    for _, operation in ipairs(cjson.decode(ARGV[base + 2])) do
      local op, key, field, amount, ttl = operation[1], operation[2], operation[3], operation[4], operation[5]
      local slot = key .. '\0' .. field
      if op == 'h' then
        if hash_sums[slot] == nil then hash_sums[slot] = 0; hash_keys[slot] = {key, field} end
        hash_sums[slot] = hash_sums[slot] + amount
      elseif op == 'z' then
        if zset_sums[slot] == nil then zset_sums[slot] = 0; zset_keys[slot] = {key, field} end
        zset_sums[slot] = zset_sums[slot] + amount
      else
        members[slot] = {key, field}
      end
      expiries[key] = ttl
    end
    results[e] = 1
  end
end
for slot, total in pairs(hash_sums) do redis.call('HINCRBY', hash_keys[slot][1], hash_keys[slot][2], total) end
for slot, total in pairs(zset_sums) do redis.call('ZINCRBY', zset_keys[slot][1], total, zset_keys[slot][2]) end
for _, pair in pairs(members) do redis.call('SADD', pair[1], pair[2]) end
for key, ttl in pairs(expiries) do
  if tonumber(ttl) > 0 then redis.call('EXPIRE', key, ttl) end
end
return results
"""


def brand_prefix(brand: str) -> str:
    return f"cx:{{{brand}}}:"


def satisfaction_key(brand: str, stage: str, granularity: str, bucket: datetime) -> str:
    return f"{brand_prefix(brand)}sat:{stage}:{granularity}:{int(bucket.timestamp())}"


def pnl_key(brand: str, day: date) -> str:
    return f"{brand_prefix(brand)}pnl:{day.isoformat()}"


def drivers_key(brand: str, stage: str, day: date) -> str:
    return f"{brand_prefix(brand)}drv:{stage}:{day.isoformat()}"


def stages_key(brand: str) -> str:
    return f"{brand_prefix(brand)}stages"


def customers_key(brand: str) -> str:
    return f"{brand_prefix(brand)}customers:reach"


def unmapped_key(brand: str) -> str:
    return f"{brand_prefix(brand)}unmapped"


def operations(contribution: Contribution) -> list[tuple[str, str, str, int, int]]:
    """The increments one event makes: satisfaction per stage and brand-wide, P&L, drivers, customers."""
    brand, stage = contribution.brand, contribution.stage
    ops: list[tuple[str, str, str, int, int]] = []
    fine = floor_to(contribution.occurred_at, FINE_BUCKET)
    coarse = floor_to(contribution.occurred_at, COARSE_BUCKET)
    for stage_name in (stage, ALL_STAGES):
        for granularity, bucket, ttl in (("m5", fine, FINE_TTL_S), ("h", coarse, COARSE_TTL_S)):
            key = satisfaction_key(brand, stage_name, granularity, bucket)
            ops.extend(("h", key, name, value, ttl) for name, value in contribution.satisfaction.as_fields().items())
    day_key = pnl_key(brand, contribution.local_day)
    ops.extend(("h", day_key, name, value, DAY_TTL_S) for name, value in contribution.pnl.as_fields().items())
    driver_key = drivers_key(brand, stage, contribution.local_day)
    milli = contribution.sentiment_milli
    for topic in ("_all", *contribution.topics):
        ops.append(("h", driver_key, f"{topic}:n", 1, COARSE_TTL_S))
        ops.append(("h", driver_key, f"{topic}:sum", milli, COARSE_TTL_S))
        ops.append(("h", driver_key, f"{topic}:sumsq", milli * milli, COARSE_TTL_S))
    ops.append(("s", stages_key(brand), stage, 0, 0))
    if contribution.stage_unmapped:
        ops.append(("h", unmapped_key(brand), stage, 1, 0))
    if contribution.customer:
        ops.append(("z", customers_key(brand), contribution.customer, contribution.reach, COARSE_TTL_S))
    return ops


class RedisAggregates:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._apply = client.register_script(_APPLY)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def apply(self, contributions: Sequence[tuple[Contribution, str]]) -> list[int]:
        """Applies (contribution, source position) pairs; returns each one's outcome, in order."""
        by_brand: dict[str, list[int]] = defaultdict(list)
        for index, (contribution, _) in enumerate(contributions):
            by_brand[contribution.brand].append(index)
        if not by_brand:
            return []
        pipe = self._client.pipeline(transaction=False)
        for brand, indexes in by_brand.items():
            args: list[Any] = [APPLIED_TTL_S, len(indexes)]
            for index in indexes:
                contribution, position = contributions[index]
                # One JSON argument per event: redis-py packs arguments in Python, cjson decodes in C.
                args.extend((contribution.event_id, position, json.dumps(operations(contribution))))
            self._apply(keys=[brand_prefix(brand)], args=args, client=pipe)
        pipe.sadd(BRANDS_KEY, *by_brand)
        results = pipe.execute()
        outcomes = [DUPLICATE] * len(contributions)
        for indexes, result in zip(by_brand.values(), results, strict=False):
            for index, outcome in zip(indexes, result, strict=True):
                outcomes[index] = int(outcome)
        return outcomes

    def brands(self) -> list[str]:
        return sorted(as_text(member) for member in self._client.smembers(BRANDS_KEY))

    def stages(self, brand: str) -> list[str]:
        return sorted(as_text(member) for member in self._client.smembers(stages_key(brand)))

    def unmapped(self, brand: str) -> dict[str, int]:
        return {as_text(key): int(value) for key, value in self._client.hgetall(unmapped_key(brand)).items()}

    def satisfaction(self, brand: str, stage: str, *, at: datetime, window: timedelta) -> SatisfactionCounts:
        return self.satisfaction_many(brand, [stage], at=at, window=window)[stage]

    def satisfaction_many(
        self, brand: str, stages: Iterable[str], *, at: datetime, window: timedelta
    ) -> dict[str, SatisfactionCounts]:
        plan = window_buckets(at, window)
        stage_list = list(stages)
        pipe = self._client.pipeline(transaction=False)
        for stage in stage_list:
            for granularity, bucket in plan:
                pipe.hgetall(satisfaction_key(brand, stage, granularity, bucket))
        results = iter(pipe.execute())
        totals = {}
        for stage in stage_list:
            total = SatisfactionCounts()
            for _ in plan:
                stored = next(results)
                if stored:
                    total = total + SatisfactionCounts.from_fields(_decode(stored))
            totals[stage] = total
        return totals

    def pnl_counts(self, brand: str, days: Sequence[date]) -> PnlCounts:
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(pnl_key(brand, day))
        total = PnlCounts()
        for stored in pipe.execute():
            if stored:
                total = total + PnlCounts.from_fields(_decode(stored))
        return total

    def driver_sums(self, brand: str, stage: str, days: Sequence[date]) -> dict[str, tuple[int, int, int]]:
        """Per topic: (n, sum, sum of squares) of sentiment in thousandths, over the days."""
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(drivers_key(brand, stage, day))
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        slot = {"n": 0, "sum": 1, "sumsq": 2}
        for stored in pipe.execute():
            for field, value in _decode(stored).items():
                topic, _, part = field.rpartition(":")
                sums[topic][slot[part]] += int(value)
        return {topic: (n, total, squares) for topic, (n, total, squares) in sums.items()}

    def top_customers(self, brand: str, limit: int) -> list[tuple[str, int]]:
        ranked: list[Any] = self._client.zrevrange(customers_key(brand), 0, limit - 1, withscores=True)
        return [(as_text(member), int(score)) for member, score in ranked]

    def erase_customer(self, identifiers: Sequence[str]) -> dict[str, int]:
        """Removes the identifiers from every brand's customer ranking; returns removals per brand
        that had any. The counts the customer's events added to satisfaction, P&L and drivers stay:
        they hold no identifier."""
        brands = self.brands()
        if not brands or not identifiers:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for brand in brands:
            pipe.zrem(customers_key(brand), *identifiers)
        removed = {brand: int(count) for brand, count in zip(brands, pipe.execute(), strict=True)}
        return {brand: count for brand, count in removed.items() if count}

    def ping(self) -> bool:
        return bool(self._client.ping())


def _decode(stored: dict[Any, Any]) -> dict[str, str]:
    return {as_text(key): as_text(value) for key, value in stored.items()}
