import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from cxpulse_collector.sources.base import PayloadInvalid, SignatureInvalid
from cxpulse_collector.sources.formbricks import FormbricksAdapter

KEY = b"formbricks-signing-key-current!!"
OLD_KEY = b"formbricks-signing-key-previous!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OLD_SECRET = "whsec_" + base64.b64encode(OLD_KEY).decode()
MESSAGE_ID = "019ba292-c1f6-7618-aaf2-ecf8e39d1cc7"
adapter = FormbricksAdapter()
NPS_OPTIONS = {"score_question_id": "nps", "comment_question_id": "why"}


def standard_webhook_headers(body: bytes, key: bytes, sent_at: datetime, message_id: str = MESSAGE_ID):
    """Computed by hand from the Standard Webhooks spec, not with the library the adapter uses."""
    timestamp = str(int(sent_at.timestamp()))
    signed = f"{message_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"}


@pytest.fixture
def body(fixture_bytes):
    return fixture_bytes("formbricks", "response_finished_nps.json")


def test_a_delivery_signed_with_the_channel_secret_is_accepted(make_request, body, now):
    adapter.verify(make_request(body, standard_webhook_headers(body, KEY, now)), [SECRET], now=now)


@pytest.mark.parametrize("key", [OLD_KEY, KEY])
def test_old_and_new_secrets_are_both_accepted_during_rotation(make_request, body, now, key):
    adapter.verify(make_request(body, standard_webhook_headers(body, key, now)), [OLD_SECRET, SECRET], now=now)


def test_one_matching_signature_among_several_is_enough(make_request, body, now):
    headers = standard_webhook_headers(body, KEY, now)
    headers["webhook-signature"] = "v1,c29tZXRoaW5nIGVsc2U= v2,ignored " + headers["webhook-signature"]
    adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_an_unusable_secret_does_not_hide_a_good_one(make_request, body, now):
    adapter.verify(make_request(body, standard_webhook_headers(body, KEY, now)), ["whsec_@@@", "", SECRET], now=now)


def test_a_tampered_body_is_rejected(make_request, body, now):
    headers = standard_webhook_headers(body, KEY, now)
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body.replace(b'"nps": 3', b'"nps": 9'), headers), [SECRET], now=now)


def test_a_delivery_signed_with_another_secret_is_rejected(make_request, body, now):
    headers = standard_webhook_headers(body, b"someone-else", now)
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_a_changed_message_id_is_rejected(make_request, body, now):
    headers = standard_webhook_headers(body, KEY, now)
    headers["webhook-id"] = "another-message"
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_delivery_missing_a_signing_header_is_rejected(make_request, body, now, missing):
    headers = standard_webhook_headers(body, KEY, now)
    del headers[missing]
    with pytest.raises(SignatureInvalid, match=missing):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-signature", "v1"),
        ("webhook-signature", "v1,***"),
        ("webhook-signature", "v2,c2lnbmF0dXJl"),
        ("webhook-timestamp", "yesterday"),
        ("webhook-timestamp", "99999999999999999999"),
    ],
)
def test_a_malformed_signing_header_is_rejected(make_request, body, now, header, value):
    headers = standard_webhook_headers(body, KEY, now)
    headers[header] = value
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_delivery_signed_too_far_from_now_is_rejected(make_request, body, now, skew):
    headers = standard_webhook_headers(body, KEY, now + skew)
    with pytest.raises(SignatureInvalid, match="webhook-timestamp"):
        adapter.verify(make_request(body, headers), [SECRET], now=now)


def test_a_body_that_is_not_utf8_is_rejected(make_request, now):
    body = b'{"comment": "\xff"}'
    with pytest.raises(SignatureInvalid, match="UTF-8"):
        adapter.verify(make_request(body, standard_webhook_headers(body, KEY, now)), [SECRET], now=now)


def test_a_finished_nps_response_becomes_a_survey_submission(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("formbricks", "response_finished_nps.json"), channel(**NPS_OPTIONS))

    assert submission.response_id == "cm1x9m7qz0007ab12s8t4u5v6"
    assert submission.brand == "acme-air"
    assert (submission.metric, submission.score) == ("nps", 3)
    assert submission.comment == "The payment page timed out twice."
    assert submission.journey_stage == "checkout"
    assert submission.customer_id == "user-5521"
    assert submission.language is None
    assert submission.occurred_at == datetime(2025, 9, 2, 10, 14, 41, 870000, tzinfo=UTC)


def test_a_customer_id_hidden_field_wins_over_the_contact(fixture_payload, channel):
    payload = fixture_payload("formbricks", "response_finished_nps.json")
    payload["data"]["data"]["customer_id"] = "crm-77"

    [submission] = adapter.parse(payload, channel(**NPS_OPTIONS))

    assert submission.customer_id == "crm-77"


def test_the_documented_created_event_without_the_score_yet_gives_nothing(fixture_payload, channel):
    payload = fixture_payload("formbricks", "response_created_docs_example.json")

    assert adapter.parse(payload, channel(**NPS_OPTIONS)) == []


def test_the_documented_finished_event_is_refused_when_its_answer_is_no_score(fixture_payload, channel):
    payload = fixture_payload("formbricks", "response_finished_docs_example.json")

    with pytest.raises(PayloadInvalid) as raised:
        adapter.parse(payload, channel(score_question_id="q1", default_stage="onboarding"))

    assert raised.value.errors == ["payload[0].data.data.q1: must be a whole number, got 'clicked'"]


def test_a_finished_response_without_its_score_is_refused(fixture_payload, channel):
    payload = fixture_payload("formbricks", "response_finished_nps.json")
    del payload["data"]["data"]["nps"]

    with pytest.raises(PayloadInvalid, match=r"data\.data\.nps: is missing"):
        adapter.parse(payload, channel(**NPS_OPTIONS))


def test_the_score_question_must_be_configured(fixture_payload, channel):
    with pytest.raises(PayloadInvalid, match=r"options\.score_question_id"):
        adapter.parse(fixture_payload("formbricks", "response_finished_nps.json"), channel())


@pytest.mark.parametrize(("metric", "score"), [("nps", 11), ("csat", 0), ("ces", 8)])
def test_an_out_of_range_score_is_refused(fixture_payload, channel, metric, score):
    payload = fixture_payload("formbricks", "response_finished_nps.json")
    payload["data"]["data"]["nps"] = score

    with pytest.raises(PayloadInvalid, match=f"{metric} score must be between"):
        adapter.parse(payload, channel(**NPS_OPTIONS, metric=metric))


def test_the_configured_metric_is_used(fixture_payload, channel):
    [submission] = adapter.parse(
        fixture_payload("formbricks", "response_finished_nps.json"), channel(**NPS_OPTIONS, metric="csat")
    )
    assert (submission.metric, submission.score) == ("csat", 3)


def test_events_that_carry_no_response_give_nothing(channel):
    assert adapter.parse({"webhookId": "w", "event": "testEndpoint", "data": {}}, channel(**NPS_OPTIONS)) == []
