import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from cxpulse_collector.sources.base import PayloadInvalid, SignatureInvalid
from cxpulse_collector.sources.zendesk import ZendeskAdapter

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
OLD_SECRET = "b2xkX3NlY3JldF9mb3JfdGVzdGluZw=="
adapter = ZendeskAdapter()


def zendesk_headers(body: bytes, secret: str, timestamp: str):
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def body(fixture_bytes):
    return fixture_bytes("zendesk", "csat_trigger_bad_with_comment.json")


def test_a_delivery_signed_with_the_secret_is_accepted(make_request, body, now):
    adapter.verify(make_request(body, zendesk_headers(body, SECRET, iso(now))), [SECRET], now=now)


@pytest.mark.parametrize("secret", [OLD_SECRET, SECRET])
def test_old_and_new_secrets_are_both_accepted_during_rotation(make_request, body, now, secret):
    adapter.verify(make_request(body, zendesk_headers(body, secret, iso(now))), [OLD_SECRET, SECRET], now=now)


def test_a_unix_seconds_timestamp_is_accepted_too(make_request, body, now):
    headers = zendesk_headers(body, SECRET, str(int(now.timestamp())))
    adapter.verify(make_request(body, headers), [SECRET], now=now)


@pytest.mark.parametrize("skew", [timedelta(minutes=-4), timedelta(minutes=4)])
def test_a_timestamp_within_five_minutes_is_accepted(make_request, body, now, skew):
    adapter.verify(make_request(body, zendesk_headers(body, SECRET, iso(now + skew))), [SECRET], now=now)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_timestamp_six_minutes_away_is_rejected(make_request, body, now, skew):
    headers = zendesk_headers(body, SECRET, iso(now + skew))
    with pytest.raises(SignatureInvalid, match="timestamp"):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_a_tampered_body_is_rejected(make_request, body, now):
    headers = zendesk_headers(body, SECRET, iso(now))
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body.replace(b'"bad"', b'"good"'), headers), [SECRET], now=now)


def test_a_signature_replayed_with_a_fresh_timestamp_is_rejected(make_request, body, now):
    headers = zendesk_headers(body, SECRET, iso(now - timedelta(hours=1)))
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = iso(now)
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_a_delivery_signed_with_another_secret_is_rejected(make_request, body, now):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, zendesk_headers(body, "not-ours", iso(now))), [SECRET], now=now)


@pytest.mark.parametrize("missing", ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"])
def test_a_delivery_missing_a_header_is_rejected(make_request, body, now, missing):
    headers = zendesk_headers(body, SECRET, iso(now))
    del headers[missing]
    with pytest.raises(SignatureInvalid, match="missing"):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Zendesk-Webhook-Signature", "%%%"),
        ("X-Zendesk-Webhook-Signature", "sha256=abc"),
        ("X-Zendesk-Webhook-Signature-Timestamp", "last tuesday"),
        ("X-Zendesk-Webhook-Signature-Timestamp", "2024-05-02T14:05:00"),
    ],
)
def test_a_malformed_header_is_rejected(make_request, body, now, header, value):
    headers = zendesk_headers(body, SECRET, iso(now))
    headers[header] = value
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_the_documented_good_rating_becomes_a_top_csat_score(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("zendesk", "satisfaction_rating_docs_example.json"), channel())

    assert submission.response_id == "ticket-208"
    assert submission.brand == "acme-air"
    assert (submission.metric, submission.score) == ("csat", 5)
    assert submission.comment is None
    assert submission.journey_stage == "support"
    assert submission.customer_id == "7881"
    assert submission.occurred_at == datetime(2011, 7, 20, 22, 55, 29, tzinfo=UTC)


def test_a_bad_rating_becomes_the_lowest_csat_score(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("zendesk", "csat_trigger_bad_with_comment.json"), channel())

    assert (submission.response_id, submission.score) == ("ticket-4521", 1)
    assert submission.comment == "Waited three days for a first reply."
    assert submission.customer_id == "1903829210"


def test_a_five_point_rating_is_taken_as_is(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("zendesk", "csat_trigger_five_point.json"), channel())

    assert submission.score == 4
    assert submission.comment is None
    assert submission.journey_stage == "returns"


def test_the_default_stage_can_be_configured(fixture_payload, channel):
    payload = fixture_payload("zendesk", "satisfaction_rating_docs_example.json")
    [submission] = adapter.parse(payload, channel(default_stage="after-sales"))
    assert submission.journey_stage == "after-sales"


@pytest.mark.parametrize("score", [0, 6, "6", "meh", True, None])
def test_a_score_outside_good_bad_or_one_to_five_is_refused(fixture_payload, channel, score):
    payload = fixture_payload("zendesk", "csat_trigger_five_point.json")
    payload["satisfaction_rating"]["score"] = score

    with pytest.raises(PayloadInvalid, match="score"):
        adapter.parse(payload, channel())


@pytest.mark.parametrize("score", ["offered", "unoffered"])
def test_a_rating_not_given_yet_gives_nothing(fixture_payload, channel, score):
    payload = fixture_payload("zendesk", "satisfaction_rating_docs_example.json")
    payload["satisfaction_rating"]["score"] = score
    assert adapter.parse(payload, channel()) == []


def test_zendesk_event_webhooks_give_nothing(fixture_payload, channel):
    assert adapter.parse(fixture_payload("zendesk", "user_active_changed_event.json"), channel()) == []


def test_a_trigger_body_without_a_rating_is_refused(channel):
    with pytest.raises(PayloadInvalid, match="satisfaction_rating: is missing"):
        adapter.parse({"ticket": {"id": 1}}, channel())
