"""The collector's answers for good and bad input, with in-memory claims and publisher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.app import create_app
from cxpulse_contracts import SurveyResponse, event_id_for
from tests.support.collector import (
    InMemoryClaims,
    RecordingPublisher,
    channel,
    collector_settings,
    fake_adapters,
    mention,
    survey,
)

SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHMtb25seQ=="


@dataclass
class Harness:
    client: TestClient
    claims: InMemoryClaims
    publisher: RecordingPublisher

    def post(
        self,
        kind: str,
        payload: object,
        *,
        channel_name: str = "tool",
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, object]]:
        body = raw if raw is not None else encode(payload)
        headers = {**signed_headers(SECRET, body), "content-type": content_type}
        response = self.client.post(f"/v1/{kind}s?channel={channel_name}", content=body, headers=headers)
        return response.status_code, response.json()


@pytest.fixture
def harness() -> Iterator[Harness]:
    adapters, claims, publisher = fake_adapters()
    channels = {
        "tool": channel("tool", SECRET, source="surveytool"),
        "scoped": channel("scoped", SECRET, brands=("acme-air",)),
    }
    settings = collector_settings(max_text_chars=500, max_batch_events=10, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings, adapters=adapters, channels=channels)) as client:
        yield Harness(client, claims, publisher)


def test_accepted_event_has_the_identity_rule_id_and_a_pseudonymised_customer(harness: Harness) -> None:
    body = survey(response_id="r-77")
    status, answer = harness.post("survey", body)
    expected_id = str(event_id_for(source="surveytool", brand="acme-air", source_id="r-77"))
    assert (status, answer) == (202, {"accepted": 1, "duplicates": 0, "event_ids": [expected_id]})
    event = SurveyResponse.model_validate_json(harness.publisher.records[0].value)
    assert event.customer_id is not None
    assert event.customer_id.startswith("ph1_")
    assert "customer-42" not in harness.publisher.records[0].value.decode()


def test_batch_counts_duplicates_within_and_across_requests(harness: Harness) -> None:
    first, second = survey(), survey()
    harness.post("survey", first)
    status, answer = harness.post("survey", [first, second, second])
    assert status == 202
    assert (answer["accepted"], answer["duplicates"]) == (1, 2)
    assert len(answer["event_ids"]) == 3  # type: ignore[arg-type]
    assert len(harness.publisher.records) == 2


def test_publish_failure_is_503_and_releases_the_claim_so_a_retry_is_accepted(harness: Harness) -> None:
    body = survey()
    harness.publisher.failing = True
    response_status, problem = harness.post("survey", body)
    assert response_status == 503
    assert problem["status"] == 503
    assert harness.claims.values == {}
    harness.publisher.failing = False
    assert harness.post("survey", body)[1]["accepted"] == 1


def test_out_of_range_score_is_422_naming_the_field(harness: Harness) -> None:
    status, problem = harness.post("survey", survey(score=11))
    assert status == 422
    assert problem["errors"] == [
        {"pointer": "/score", "detail": "Value error, nps score must be between 0 and 10, got 11"}
    ]


def test_every_field_error_of_a_batch_is_reported(harness: Harness) -> None:
    status, problem = harness.post("survey", [survey(metric="csat", score=6), survey(journey_stage="Not A Slug")])
    assert status == 422
    pointers = {error["pointer"] for error in problem["errors"]}  # type: ignore[attr-defined]
    assert pointers == {"/0/score", "/1/journey_stage"}
    assert harness.publisher.records == []


def test_text_over_its_limit_is_413(harness: Harness) -> None:
    status, problem = harness.post("mention", mention(text="x" * 501))
    assert status == 413
    assert problem["errors"] == [{"pointer": "/0/text", "detail": "501 characters"}]


def test_batch_over_the_limit_is_413(harness: Harness) -> None:
    assert harness.post("survey", [survey() for _ in range(11)])[0] == 413


def test_body_over_the_limit_is_413(harness: Harness) -> None:
    assert harness.post("survey", None, raw=b" " * (64 * 1024 + 1))[0] == 413


def test_not_json_content_type_is_415(harness: Harness) -> None:
    assert harness.post("survey", survey(), content_type="text/plain")[0] == 415


def test_malformed_json_is_400(harness: Harness) -> None:
    assert harness.post("survey", None, raw=b'{"response_id": ')[0] == 400


def test_deeply_nested_json_is_a_4xx(harness: Harness) -> None:
    status, _ = harness.post("survey", None, raw=b"[" * 5000 + b"]" * 5000)
    assert 400 <= status < 500


def test_empty_batch_is_422(harness: Harness) -> None:
    assert harness.post("survey", [])[0] == 422


def test_brand_outside_the_channel_scope_is_403(harness: Harness) -> None:
    status, _ = harness.post("survey", survey(brand="globex-shop"), channel_name="scoped")
    assert status == 403
    assert harness.publisher.records == []


def test_timestamp_without_timezone_is_422(harness: Harness) -> None:
    assert harness.post("survey", survey(occurred_at="2026-11-20T10:00:00"))[0] == 422


@pytest.mark.parametrize("unix_time", ["0", "1795407380", 1795407380, 1.5])
def test_unix_time_is_not_a_date_time_and_is_422(harness: Harness, unix_time: object) -> None:
    status, problem = harness.post("mention", mention(occurred_at=unix_time))
    assert status == 422
    assert "RFC 3339" in json.dumps(problem)
    assert harness.publisher.records == []


def test_an_rfc_3339_time_with_an_offset_is_accepted(harness: Harness) -> None:
    assert harness.post("survey", survey(occurred_at="2026-11-20T12:00:00+02:00"))[0] == 202


def test_mention_keeps_its_fields_and_gets_cloudevents_headers(harness: Harness) -> None:
    status, answer = harness.post("mention", mention())
    assert status == 202
    record = harness.publisher.records[0]
    headers = dict(record.headers)
    assert headers["ce_id"].decode() == answer["event_ids"][0]  # type: ignore[index]
    assert headers["ce_type"] == b"io.cxpulse.feedback.mention.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["traceparent"].startswith(b"00-")
    assert json.loads(record.value)["author"] == {"handle": "traveller", "followers": 120}
    assert record.key == b"acme-air"


def test_publish_latency_carries_the_request_trace_as_an_exemplar(harness: Harness) -> None:
    harness.post("survey", survey())
    openmetrics = harness.client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    exemplar_lines = [
        line
        for line in openmetrics.text.splitlines()
        if line.startswith("cx_collector_publish_seconds_bucket") and "trace_id=" in line
    ]
    assert len(exemplar_lines) == 1
    assert "trace_id=" not in harness.client.get("/metrics").text


def test_openapi_documents_one_event_or_a_batch_up_to_the_configured_limit(harness: Harness) -> None:
    document = harness.client.get("/openapi.json").json()
    for path, model in (("/v1/surveys", "SurveySubmission"), ("/v1/mentions", "MentionSubmission")):
        body = document["paths"][path]["post"]["requestBody"]
        one, batch = body["content"]["application/json"]["schema"]["oneOf"]
        assert one == {"$ref": f"#/components/schemas/{model}"}
        assert batch == {"type": "array", "items": one, "minItems": 1, "maxItems": 10}
    assert "score" in document["components"]["schemas"]["SurveySubmission"]["properties"]
