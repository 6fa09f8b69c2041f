"""Standard Webhooks rules at the collector's door, with in-memory adapters behind it."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.app import create_app
from tests.support.collector import RecordingPublisher, channel, collector_settings, fake_adapters, survey


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


OLD_SECRET, NEW_SECRET, OTHER_SECRET = new_secret(), new_secret(), new_secret()


@pytest.fixture
def published() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(published: RecordingPublisher) -> Iterator[TestClient]:
    adapters, _, _ = fake_adapters()
    adapters.publisher = published
    channels = {"tool": channel("tool", OLD_SECRET, NEW_SECRET)}
    app = create_app(collector_settings(), adapters=adapters, channels=channels)
    with TestClient(app) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, headers: dict[str, str], channel_name: str = "tool") -> int:
    return client.post(f"/v1/surveys?channel={channel_name}", content=body, headers=headers).status_code


def test_signed_request_is_accepted(client: TestClient, published: RecordingPublisher) -> None:
    body = encode(survey())
    assert post(client, body, signed_headers(NEW_SECRET, body)) == 202
    assert len(published.records) == 1


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_401(client: TestClient, published: RecordingPublisher, missing: str) -> None:
    body = encode(survey())
    headers = signed_headers(NEW_SECRET, body)
    del headers[missing]
    assert post(client, body, headers) == 401
    assert published.records == []


@pytest.mark.parametrize("skew_s", [-360, 360])
def test_timestamp_six_minutes_off_is_401(client: TestClient, skew_s: int) -> None:
    body = encode(survey())
    assert post(client, body, signed_headers(NEW_SECRET, body, timestamp=time.time() + skew_s)) == 401


@pytest.mark.parametrize("skew_s", [-240, 240])
def test_timestamp_within_tolerance_is_accepted(client: TestClient, skew_s: int) -> None:
    body = encode(survey())
    assert post(client, body, signed_headers(NEW_SECRET, body, timestamp=time.time() + skew_s)) == 202


def test_tampered_body_is_401(client: TestClient) -> None:
    body = encode(survey(score=9))
    headers = signed_headers(NEW_SECRET, body)
    assert post(client, body.replace(b'"score":9', b'"score":0'), headers) == 401


def test_body_reserialised_with_other_whitespace_is_401(client: TestClient) -> None:
    payload = survey()
    headers = signed_headers(NEW_SECRET, encode(payload))
    assert post(client, json.dumps(payload, indent=2).encode(), headers) == 401


def test_both_secrets_of_a_rotation_are_accepted(client: TestClient) -> None:
    for secret in (OLD_SECRET, NEW_SECRET):
        body = encode(survey())
        assert post(client, body, signed_headers(secret, body)) == 202


def test_secret_of_no_channel_is_401(client: TestClient) -> None:
    body = encode(survey())
    assert post(client, body, signed_headers(OTHER_SECRET, body)) == 401


def test_unknown_channel_is_401_like_a_bad_signature(client: TestClient) -> None:
    body = encode(survey())
    response = client.post("/v1/surveys?channel=nobody", content=body, headers=signed_headers(NEW_SECRET, body))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Signature verification failed"


def test_garbage_signature_header_is_401_not_500(client: TestClient) -> None:
    body = encode(survey())
    headers = {**signed_headers(NEW_SECRET, body), "webhook-signature": "v1,%%% nonsense"}
    assert post(client, body, headers) == 401


def test_invalid_utf8_body_is_400_malformed_not_a_signature_failure(client: TestClient) -> None:
    body = b'{"response_id": "\xff\xfe"}'
    response = client.post("/v1/surveys?channel=tool", content=body, headers=signed_headers(NEW_SECRET, b"{}"))
    assert response.status_code == 400
    assert response.json()["detail"] == "the body is not UTF-8, as JSON must be"
