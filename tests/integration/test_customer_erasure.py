"""Erasure on real Redis: `DELETE /v1/customers/{id}` on the scorer and on alerts, and incident retention."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cxpulse_alerts.adapters.store import RedisAlertStore, incident_key
from cxpulse_alerts.app import AlertsSettings
from cxpulse_alerts.app import create_app as create_alerts_app
from cxpulse_alerts.domain.incidents import Incident, SampleMention, Signal
from cxpulse_collector.domain.ingest import to_event
from cxpulse_contracts import MentionSubmission, SurveySubmission
from cxpulse_scorer.adapters.aggregates import RedisAggregates, customers_key
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_scorer.app import create_app as create_scorer_app
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.support.alerts import care_ownership_file, incident_brand, stored_incident

pytestmark = pytest.mark.integration
OPERATOR, CARE = "erasure-operator-token-0123456789", "erasure-care-token-0123456789"
KEY = "erasure-test-pseudonymisation-key"
AUTH = ApiAuthSettings(api_token=SecretStr(OPERATOR), team_tokens={"care": SecretStr(CARE)})


def header(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def survey(brand: str, customer_id: str, index: int) -> SurveySubmission:
    return SurveySubmission(
        response_id=f"r-{index}",
        brand=brand,
        metric="nps",
        score=2,
        journey_stage="support",
        customer_id=customer_id,
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
    )


def mention(brand: str, handle: str, index: int) -> MentionSubmission:
    return MentionSubmission(
        mention_id=f"m-{index}",
        brand=brand,
        platform="x",
        author={"handle": handle, "followers": 5_000},
        text="My bag is lost and nobody answers",
        url=f"https://x.com/{handle}/status/{index}",
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
    )


@pytest.fixture
def aggregates(redis_settings: RedisSettings) -> RedisAggregates:
    return RedisAggregates(redis.Redis.from_url(redis_settings.url.get_secret_value()))


@pytest.fixture
def brands(aggregates: RedisAggregates) -> tuple[str, str]:
    """Two brands whose customer rankings hold a customer in both, another customer and an author,
    applied through the collector's ingest and the scorer's own scoring, as the pipeline does."""
    first, second = f"erase-{uuid.uuid4().hex[:8]}", f"erase-{uuid.uuid4().hex[:8]}"
    submissions: list[SurveySubmission | MentionSubmission] = [
        survey(first, "crm-0042", 1),
        survey(second, "crm-0042", 2),
        survey(first, "crm-0007", 3),
        mention(first, "Alice_Example", 4),
        mention(first, "bob", 5),
    ]
    events = [
        to_event(
            item, source="erasure", channel="erasure", pseudonymisation_key=KEY.encode(), received_at=datetime.now(UTC)
        )
        for item in submissions
    ]
    scored = load_scoring(ScorerSettings()).scorer.score_batch(events, scored_at=datetime.now(UTC))
    aggregates.apply([(item.contribution, f"erasure:{index}") for index, item in enumerate(scored)])
    return first, second


@pytest.fixture
def scorer_api(kafka_settings: KafkaSettings, redis_settings: RedisSettings) -> Iterator[TestClient]:
    settings = ScorerSettings(group_id=f"cx-scorer-erasure-{uuid.uuid4().hex[:8]}", pseudonymisation_key=SecretStr(KEY))
    app = create_scorer_app(settings, kafka=kafka_settings, redis_settings=redis_settings, auth=AUTH)
    with TestClient(app) as client:
        yield client


def ranked(aggregates: RedisAggregates, brand: str) -> list[str]:
    return [customer for customer, _ in aggregates.top_customers(brand, 100)]


def test_scorer_erases_a_customer_id_from_every_brand_and_keeps_the_others(
    scorer_api: TestClient, aggregates: RedisAggregates, brands: tuple[str, str]
) -> None:
    first, second = brands
    assert len(ranked(aggregates, first)) == 4
    erased = scorer_api.delete("/v1/customers/crm-0042", headers=header(OPERATOR))
    assert erased.status_code == 200
    # Erasure spans every brand in Redis, including other tests' brands holding the same customer.
    assert set(erased.json()["brands"]) >= {first, second}
    assert erased.json()["removed"] == {"customer_reach": len(erased.json()["brands"])}
    assert erased.json()["matched_as"] == ["customer_id"]
    remaining = ranked(aggregates, first)
    assert len(remaining) == 3
    assert "x:alice_example" in remaining
    assert "x:bob" in remaining
    assert ranked(aggregates, second) == []
    shown = scorer_api.get("/v1/customers/top", params={"brand": first}, headers=header(OPERATOR)).json()
    assert len(shown["customers"]) == 3

    again = scorer_api.delete("/v1/customers/crm-0042", headers=header(OPERATOR))
    assert again.status_code == 200
    assert again.json()["removed"] == {"customer_reach": 0}


def test_scorer_erases_an_author_by_platform_and_handle_in_any_case(
    scorer_api: TestClient, aggregates: RedisAggregates, brands: tuple[str, str]
) -> None:
    first, _ = brands
    erased = scorer_api.delete("/v1/customers/x:ALICE_example", headers=header(OPERATOR))
    assert first in erased.json()["brands"]
    assert erased.json()["removed"] == {"customer_reach": len(erased.json()["brands"])}
    assert "author" in erased.json()["matched_as"]
    assert "x:alice_example" not in ranked(aggregates, first)
    assert "x:bob" in ranked(aggregates, first)


def test_scorer_erasure_is_for_operators_and_rejects_ids_that_name_nobody(
    scorer_api: TestClient, aggregates: RedisAggregates, brands: tuple[str, str]
) -> None:
    first, _ = brands
    assert scorer_api.delete("/v1/customers/crm-0042").status_code == 401
    forbidden = scorer_api.delete("/v1/customers/crm-0042", headers=header(CARE))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    for bad in ("crm%0742", "%20%20", "a" * 301):
        invalid = scorer_api.delete(f"/v1/customers/{bad}", headers=header(OPERATOR))
        assert invalid.status_code == 422, bad
        assert invalid.headers["content-type"] == "application/problem+json"
    # A line break cannot be in a path segment the router matches: a problem+json 404, not an erasure.
    broken = scorer_api.delete("/v1/customers/crm%0A42", headers=header(OPERATOR))
    assert (broken.status_code, broken.headers["content-type"]) == (404, "application/problem+json")
    assert len(ranked(aggregates, first)) == 4


def test_scorer_without_the_key_refuses_raw_ids_but_erases_authors(
    kafka_settings: KafkaSettings, redis_settings: RedisSettings, aggregates: RedisAggregates, brands: tuple[str, str]
) -> None:
    first, _ = brands
    settings = ScorerSettings(group_id=f"cx-scorer-erasure-{uuid.uuid4().hex[:8]}")
    app = create_scorer_app(settings, kafka=kafka_settings, redis_settings=redis_settings, auth=AUTH)
    with TestClient(app) as client:
        refused = client.delete("/v1/customers/crm-0042", headers=header(OPERATOR))
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert first in client.delete("/v1/customers/x:bob", headers=header(OPERATOR)).json()["brands"]
    assert len(ranked(aggregates, first)) == 3


@pytest.fixture
def store(redis_settings: RedisSettings) -> RedisAlertStore:
    return RedisAlertStore(redis.Redis.from_url(redis_settings.url.get_secret_value()))


@pytest.fixture
def alerts_api(tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings) -> Iterator[TestClient]:
    ownership = care_ownership_file(tmp_path)
    app = create_alerts_app(
        AlertsSettings(ownership_file=ownership, group_id=f"cx-alerts-erasure-{uuid.uuid4().hex[:8]}"),
        kafka=kafka_settings,
        redis_settings=redis_settings,
        auth=AUTH,
        environ={},
    )
    with TestClient(app) as client:
        yield client


def incident_naming(store: RedisAlertStore, handle: str) -> Incident:
    now = datetime.now(UTC)
    brand = incident_brand("erase")
    post = f"https://x.com/{handle}/status/1"
    signals = [
        Signal("influencer_detractor", brand, 0.8, now, details={"url": post, "author": handle}),
        Signal("viral_complaint", brand, 0.7, now, details={"url": post}),
        Signal("volume_spike", brand, 0.9, now, details={"z": 4.1}),
    ]
    return stored_incident(
        store,
        brand_prefix="erase",
        signals=signals,
        severity=4,
        crisis_risk=0.9,
        samples=(
            SampleMention("lost my bag again", post, handle, 250_000),
            SampleMention("refund still missing", "https://x.com/bob/status/2", "bob", 900),
        ),
    )


def test_alerts_erases_an_author_from_incident_evidence_and_audits_without_naming_them(
    alerts_api: TestClient, store: RedisAlertStore
) -> None:
    handle = f"Alice_{uuid.uuid4().hex[:8]}"
    incident = incident_naming(store, handle)
    erased = alerts_api.delete(f"/v1/customers/x:{handle.lower()}", headers=header(OPERATOR))
    assert erased.status_code == 200
    body = erased.json()
    assert body["removed"] == {"samples": 1, "signal_details": 2}
    assert body["incidents"] == [incident.id]
    assert body["reference"].startswith("era-")

    shown = alerts_api.get(f"/v1/incidents/{incident.id}", headers=header(OPERATOR)).json()
    assert handle.lower() not in json.dumps(shown).lower()
    assert [sample["author"] for sample in shown["samples"]] == ["bob"]
    assert shown["severity"] == 4
    assert len(shown["signals"]) == 3

    entries = alerts_api.get("/v1/audit", headers=header(OPERATOR)).json()["entries"]
    audited = [entry for entry in entries if entry["target"] == body["reference"]]
    assert len(audited) == 1
    assert (audited[0]["actor"], audited[0]["action"]) == ("operator", "erase-customer")
    assert json.loads(audited[0]["details"])["incidents"] == [incident.id]
    assert handle.lower() not in json.dumps(entries).lower()

    again = alerts_api.delete(f"/v1/customers/x:{handle}", headers=header(OPERATOR))
    assert again.status_code == 200
    assert again.json()["removed"] == {"samples": 0, "signal_details": 0}


def test_alerts_erasure_of_a_survey_customer_id_finds_nothing_and_is_for_operators(
    alerts_api: TestClient, store: RedisAlertStore
) -> None:
    incident = incident_naming(store, f"carol_{uuid.uuid4().hex[:8]}")
    raw = alerts_api.delete("/v1/customers/crm-0042", headers=header(OPERATOR))
    assert raw.status_code == 200
    assert (raw.json()["matched_as"], raw.json()["incidents"]) == ([], [])
    assert alerts_api.delete("/v1/customers/x:carol", headers=header(CARE)).status_code == 403
    invalid = alerts_api.delete("/v1/customers/x:car%07ol", headers=header(OPERATOR))
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    stored = store.get(incident.id)
    assert stored is not None
    assert len(stored.samples) == 2


def test_resolved_incidents_expire_after_their_retention_and_active_ones_do_not(
    redis_settings: RedisSettings,
) -> None:
    client = redis.Redis.from_url(redis_settings.url.get_secret_value())
    store = RedisAlertStore(client, resolved_retention_s=3600)
    incident = incident_naming(RedisAlertStore(client), f"dave_{uuid.uuid4().hex[:8]}")
    assert client.ttl(incident_key(incident.id)) == -1
    resolved = store.save(Incident(**{**incident.__dict__, "status": "resolved", "resolved_at": datetime.now(UTC)}))
    assert 0 < client.ttl(incident_key(resolved.id)) <= 3600
    client.delete(incident_key(resolved.id))
    assert resolved.id not in {item.id for item in store.recent(2000)}
    assert resolved.id not in store.incident_ids()


def test_customer_ranking_key_is_the_one_erasure_clears(aggregates: RedisAggregates, brands: tuple[str, str]) -> None:
    first, _ = brands
    assert aggregates.client.zcard(customers_key(first)) == 4
    removed = aggregates.erase_customer(["x:bob", "x:nobody"])
    assert removed[first] == 1
    assert set(removed.values()) == {1}
    assert aggregates.client.zcard(customers_key(first)) == 3
