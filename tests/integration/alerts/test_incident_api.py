"""The incident API on real Redis: team-scoped tokens, acknowledge and resolve, silences, audit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cxpulse_alerts.adapters.store import ACTIVE_BRANDS, RedisAlertStore
from cxpulse_alerts.app import AlertsSettings, create_app
from cxpulse_alerts.domain.incidents import Incident
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.support.alerts import care_ownership_file, stored_incident

pytestmark = pytest.mark.integration
OPERATOR, CARE, PR = "operator-token-0123456789", "care-token-0123456789", "pr-token-0123456789"


def header(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def store(redis_settings: RedisSettings) -> RedisAlertStore:
    return RedisAlertStore(redis.Redis.from_url(redis_settings.url.get_secret_value()))


@pytest.fixture
def api(tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings) -> Iterator[TestClient]:
    ownership = care_ownership_file(tmp_path, teams=("care", "pr"))
    app = create_app(
        AlertsSettings(ownership_file=ownership, group_id=f"cx-alerts-api-{uuid.uuid4().hex[:8]}"),
        kafka=kafka_settings,
        redis_settings=redis_settings,
        auth=ApiAuthSettings(api_token=SecretStr(OPERATOR), team_tokens={"care": SecretStr(CARE), "pr": SecretStr(PR)}),
        environ={},
    )
    with TestClient(app) as client:
        yield client


def care_incident(store: RedisAlertStore) -> Incident:
    return stored_incident(store, brand_prefix="api")


def test_tokens_scope_what_a_team_sees_and_does(api: TestClient, store: RedisAlertStore) -> None:
    incident = care_incident(store)
    path = f"/v1/incidents/{incident.id}"
    assert api.get(path).status_code == 401
    assert api.get(path, headers=header("wrong")).status_code == 401
    assert api.get(path, headers=header(CARE)).status_code == 200
    assert api.get(path, headers=header(OPERATOR)).status_code == 200
    forbidden = api.get(path, headers=header(PR))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert api.post(f"{path}/ack", headers=header(PR)).status_code == 403
    listed_by_pr = api.get("/v1/incidents", headers=header(PR)).json()["incidents"]
    assert incident.id not in {item["id"] for item in listed_by_pr}
    listed_by_care = api.get("/v1/incidents", headers=header(CARE)).json()["incidents"]
    assert incident.id in {item["id"] for item in listed_by_care}
    assert api.get("/v1/incidents/inc-nope", headers=header(OPERATOR)).status_code == 404


def test_acknowledge_then_resolve_are_audited(api: TestClient, store: RedisAlertStore) -> None:
    incident = care_incident(store)
    acknowledged = api.post(f"/v1/incidents/{incident.id}/ack", headers=header(CARE))
    assert acknowledged.status_code == 200
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == ("acknowledged", "care")
    assert api.post(f"/v1/incidents/{incident.id}/ack", headers=header(CARE)).status_code == 409
    resolved = api.post(f"/v1/incidents/{incident.id}/resolve", headers=header(OPERATOR))
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"] == "operator"
    assert api.get("/v1/audit", headers=header(CARE)).status_code == 403
    entries = api.get("/v1/audit", headers=header(OPERATOR)).json()["entries"]
    actions = [(entry["actor"], entry["action"]) for entry in entries if entry["target"] == incident.id]
    assert actions == [("operator", "resolve"), ("care", "acknowledge")]


def test_silences_are_validated_listed_and_audited(api: TestClient) -> None:
    now = datetime.now(UTC)
    body = {
        "matchers": {"brand": "acme-air", "stage": "baggage"},
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "comment": "known baggage-system outage",
    }
    created = api.post("/v1/silences", json=body, headers=header(CARE))
    assert created.status_code == 201
    silence_id = created.json()["id"]
    assert silence_id in {item["id"] for item in api.get("/v1/silences", headers=header(PR)).json()["silences"]}
    entries = api.get("/v1/audit", headers=header(OPERATOR)).json()["entries"]
    audited = [entry for entry in entries if entry["target"] == silence_id]
    assert audited[0]["actor"] == "care"
    assert json.loads(audited[0]["details"])["comment"] == "known baggage-system outage"
    unknown_label = api.post("/v1/silences", json={**body, "matchers": {"colour": "red"}}, headers=header(CARE))
    assert unknown_label.status_code == 422
    backwards = api.post(
        "/v1/silences", json={**body, "ends_at": (now - timedelta(hours=1)).isoformat()}, headers=header(CARE)
    )
    assert backwards.status_code == 422


def test_active_brands_follow_incidents_opening_and_resolving(store: RedisAlertStore) -> None:
    first = care_incident(store)
    second = care_incident(store)
    assert {first.brand, second.brand} <= set(store.active_brands())
    store.save(replace(first, status="resolved", resolved_at=datetime.now(UTC)))
    listed = set(store.active_brands())
    assert first.brand not in listed
    assert second.brand in listed


def test_brands_active_before_the_index_existed_are_still_listed(
    store: RedisAlertStore, redis_settings: RedisSettings
) -> None:
    incident = care_incident(store)
    client = redis.Redis.from_url(redis_settings.url.get_secret_value())
    client.srem(ACTIVE_BRANDS, incident.brand)
    fresh_process_store = RedisAlertStore(client)
    assert incident.brand in fresh_process_store.active_brands()
