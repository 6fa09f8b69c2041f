"""Incidents, silences, detector state and the audit log in Redis.

Saves are compare-and-set on the incident's `version`, so the consume loop and an API call
acknowledging the same incident at the same moment cannot overwrite each other.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import TypeAdapter

from cxpulse_alerts.domain.incidents import Incident, Silence
from cxpulse_shared.redis import as_text

_incident: TypeAdapter[Incident] = TypeAdapter(Incident)
_silence: TypeAdapter[Silence] = TypeAdapter(Silence)
PREFIX = "cx:alerts:"
AUDIT_STREAM = PREFIX + "audit"
AUDIT_MAX_ENTRIES = 100_000
# Which brands have an active incident: the timer sweep reads it every second, and scanning the
# keyspace instead costs as much as every key in Redis (claims, aggregates) each time.
ACTIVE_BRANDS = PREFIX + "active-brands"

# KEYS: incident key, the brand's active index, all-incidents index, brands-with-active index.
# ARGV: expected version, json, id, fingerprint, active flag, opened score, seconds a resolved
# incident is kept (0: for ever), brand.
# Fails (0) when someone saved a newer version meanwhile.
_SAVE = """
local current = redis.call('GET', KEYS[1])
if current then
  local version = cjson.decode(current)['version']
  if tonumber(version) ~= tonumber(ARGV[1]) then return 0 end
elseif tonumber(ARGV[1]) ~= 0 then
  return 0
end
if ARGV[5] == '0' and tonumber(ARGV[7]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[7])
else redis.call('SET', KEYS[1], ARGV[2]) end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[8])
elseif redis.call('HGET', KEYS[2], ARGV[4]) == ARGV[3] then
  redis.call('HDEL', KEYS[2], ARGV[4])
  if redis.call('HLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[8]) end
end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[3])
return 1
"""


class ConcurrentUpdate(Exception):
    """Someone saved the incident first; reload and apply the change again."""


def incident_key(incident_id: str) -> str:
    return f"{PREFIX}incident:{incident_id}"


def active_key(brand: str) -> str:
    return f"{PREFIX}active:{brand}"


class RedisAlertStore:
    def __init__(self, client: redis.Redis, *, resolved_retention_s: int = 0) -> None:
        """`resolved_retention_s`: how long a resolved incident and its evidence are kept; 0 for ever."""
        self._client = client
        self._save = client.register_script(_SAVE)
        self._resolved_retention_s = resolved_retention_s
        self._active_brands_indexed = False

    def save(self, incident: Incident) -> Incident:
        """Stores the incident as `version + 1`; raises ConcurrentUpdate on a lost race."""
        stored = replace(incident, version=incident.version + 1)
        saved = self._save(
            keys=[incident_key(incident.id), active_key(incident.brand), PREFIX + "incidents", ACTIVE_BRANDS],
            args=[
                incident.version,
                _incident.dump_json(stored).decode(),
                incident.id,
                incident.fingerprint,
                "1" if stored.active else "0",
                stored.opened_at.timestamp(),
                self._resolved_retention_s,
                incident.brand,
            ],
        )
        if not saved:
            raise ConcurrentUpdate(incident.id)
        return stored

    def get(self, incident_id: str) -> Incident | None:
        raw = self._client.get(incident_key(incident_id))
        return _incident.validate_json(raw) if raw else None

    def active_for(self, brand: str) -> dict[str, Incident]:
        stored: dict[Any, Any] = self._client.hgetall(active_key(brand))
        ids = {as_text(fingerprint): as_text(incident_id) for fingerprint, incident_id in stored.items()}
        incidents = {}
        for fingerprint, incident_id in ids.items():
            incident = self.get(incident_id)
            if incident is not None and incident.active:
                incidents[fingerprint] = incident
        return incidents

    def active_brands(self) -> list[str]:
        if not self._active_brands_indexed:
            self._index_active_brands()
        members: set[Any] = self._client.smembers(ACTIVE_BRANDS)
        return sorted(as_text(brand) for brand in members)

    def _index_active_brands(self) -> None:
        """Once per process: brands whose incidents were saved before the index existed join it."""
        brands = [key.decode().removeprefix(PREFIX + "active:") for key in self._client.scan_iter(active_key("*"))]
        if brands:
            self._client.sadd(ACTIVE_BRANDS, *brands)
        self._active_brands_indexed = True

    def recent(self, limit: int = 200) -> list[Incident]:
        ids: list[Any] = self._client.zrevrange(PREFIX + "incidents", 0, limit - 1)
        found = [self.get(as_text(incident_id)) for incident_id in ids]
        expired = [incident_id for incident_id, incident in zip(ids, found, strict=True) if incident is None]
        if expired:
            # Resolved incidents past their retention expire on their own; their index entries go here.
            self._client.zrem(PREFIX + "incidents", *expired)
        return [incident for incident in found if incident is not None]

    def incident_ids(self) -> list[str]:
        """Every stored incident's id, newest first (an erasure has to look at all of them)."""
        ids: list[Any] = self._client.zrevrange(PREFIX + "incidents", 0, -1)
        return [as_text(incident_id) for incident_id in ids]

    def add_silence(self, silence: Silence) -> None:
        self._client.hset(PREFIX + "silences", silence.id, _silence.dump_json(silence))

    def silences(self, *, now: datetime | None = None) -> list[Silence]:
        moment = now or datetime.now(UTC)
        found = [_silence.validate_json(raw) for raw in self._client.hvals(PREFIX + "silences")]
        return sorted((item for item in found if item.ends_at > moment), key=lambda item: item.starts_at)

    def save_detector_state(self, brand: str, state: dict[str, Any]) -> None:
        self._client.set(f"{PREFIX}detectors:{brand}", json.dumps(state, separators=(",", ":")))

    def detector_state(self, brand: str) -> dict[str, Any] | None:
        raw = self._client.get(f"{PREFIX}detectors:{brand}")
        return json.loads(raw) if raw else None

    def audit(self, *, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        """Who acknowledged, resolved or silenced what, and every configuration change."""
        entry = {
            "actor": actor,
            "action": action,
            "target": target,
            "at": datetime.now(UTC).isoformat(),
            "details": json.dumps(details or {}, sort_keys=True),
        }
        self._client.xadd(AUDIT_STREAM, entry, maxlen=AUDIT_MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]

    def audit_log(self, limit: int = 100) -> list[dict[str, str]]:
        entries: list[Any] = self._client.xrevrange(AUDIT_STREAM, count=limit)  # type: ignore[assignment]
        return [{as_text(key): as_text(value) for key, value in fields.items()} for _, fields in entries]

    def ping(self) -> bool:
        return bool(self._client.ping())

    def remember_config_digest(self, name: str, digest: str) -> str | None:
        """Returns the previous digest when the configuration changed since the last start."""
        previous = self._client.getset(f"{PREFIX}config:{name}", digest)
        decoded = as_text(previous) if previous else None
        return decoded if decoded != digest else None
