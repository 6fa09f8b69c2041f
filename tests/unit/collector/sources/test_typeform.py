import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from cxpulse_collector.sources.base import PayloadInvalid, SignatureInvalid
from cxpulse_collector.sources.typeform import TypeformAdapter

SECRET = "tf-secret-current"
OLD_SECRET = "tf-secret-previous"
adapter = TypeformAdapter()


def typeform_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


@pytest.fixture
def nps_body(fixture_bytes):
    return fixture_bytes("typeform", "form_response_nps.json")


def test_a_body_signed_with_the_channel_secret_is_accepted(make_request, nps_body, now):
    request = make_request(nps_body, {"Typeform-Signature": typeform_signature(nps_body, SECRET)})
    adapter.verify(request, [SECRET], now=now)


@pytest.mark.parametrize("signing_secret", [OLD_SECRET, SECRET])
def test_old_and_new_secrets_are_both_accepted_during_rotation(make_request, nps_body, now, signing_secret):
    request = make_request(nps_body, {"Typeform-Signature": typeform_signature(nps_body, signing_secret)})
    adapter.verify(request, [OLD_SECRET, SECRET], now=now)


def test_a_tampered_body_is_rejected(make_request, nps_body, now):
    signature = typeform_signature(nps_body, SECRET)
    tampered = nps_body.replace(b'"number": 9', b'"number": 10')
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(tampered, {"Typeform-Signature": signature}), [SECRET], now=now)


def test_a_body_signed_with_another_secret_is_rejected(make_request, nps_body, now):
    request = make_request(nps_body, {"Typeform-Signature": typeform_signature(nps_body, "not-ours")})
    with pytest.raises(SignatureInvalid):
        adapter.verify(request, [SECRET], now=now)


def test_a_request_without_signature_is_rejected(make_request, nps_body, now):
    with pytest.raises(SignatureInvalid, match="missing typeform-signature"):
        adapter.verify(make_request(nps_body), [SECRET], now=now)


@pytest.mark.parametrize(
    "header",
    ["sha256=***not base64***", "sha1=c2lnbmF0dXJl", "sha256", "sha256=é", "sha256=" + "a" * 5],
)
def test_a_malformed_signature_header_is_rejected(make_request, nps_body, now, header):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(nps_body, {"Typeform-Signature": header}), [SECRET], now=now)


def test_a_channel_without_secrets_accepts_nothing(make_request, nps_body, now):
    request = make_request(nps_body, {"Typeform-Signature": typeform_signature(nps_body, SECRET)})
    with pytest.raises(SignatureInvalid):
        adapter.verify(request, [], now=now)


def test_an_nps_response_becomes_a_survey_submission(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("typeform", "form_response_nps.json"), channel())

    assert submission.response_id == "7d1e9c44b0a24f3c9e5b8a6f2d0c1e37"
    assert submission.brand == "acme-air"
    assert (submission.metric, submission.score) == ("nps", 9)
    assert submission.comment == "Check-in was quick and the crew were lovely."
    assert submission.journey_stage == "onboarding"
    assert submission.customer_id == "cus_8842"
    assert submission.occurred_at == datetime(2024, 3, 14, 9, 21, 47, tzinfo=UTC)


def test_the_documented_example_parses_once_its_scale_question_is_configured(fixture_payload, channel):
    options = {
        "score_field_ref": "readable_ref_opinion_scale",
        "metric": "csat",
        "default_stage": "research",
        "customer_id_hidden_field": "user_id",
    }
    [submission] = adapter.parse(fixture_payload("typeform", "form_response_docs_example.json"), channel(**options))

    assert submission.response_id == "a3a12ec67a1365927098a606107fac15"
    assert (submission.metric, submission.score) == ("csat", 2)
    assert submission.comment is not None
    assert submission.comment.startswith("It's cold right now!")
    assert submission.journey_stage == "research"
    assert submission.customer_id == "abc123456"
    assert submission.occurred_at == datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)


def test_every_missing_setting_is_reported_at_once(fixture_payload, channel):
    with pytest.raises(PayloadInvalid) as raised:
        adapter.parse(fixture_payload("typeform", "form_response_docs_example.json"), channel())

    reasons = " | ".join(raised.value.errors)
    assert "options.metric" in reasons
    assert "default_stage" in reasons


def test_an_out_of_range_score_is_refused(fixture_payload, channel):
    payload = fixture_payload("typeform", "form_response_nps.json")
    payload["form_response"]["answers"][0]["number"] = 11

    with pytest.raises(PayloadInvalid, match="between 0 and 10"):
        adapter.parse(payload, channel())


def test_a_skipped_score_question_is_refused(fixture_payload, channel):
    payload = fixture_payload("typeform", "form_response_nps.json")
    del payload["form_response"]["answers"][0]

    with pytest.raises(PayloadInvalid, match="nps_score"):
        adapter.parse(payload, channel())


def test_a_score_field_ref_the_form_does_not_have_is_reported(fixture_payload, channel):
    with pytest.raises(PayloadInvalid, match="no question with ref 'nope'"):
        adapter.parse(fixture_payload("typeform", "form_response_nps.json"), channel(score_field_ref="nope"))


def test_a_hidden_field_may_name_the_brand(fixture_payload, channel):
    payload = fixture_payload("typeform", "form_response_nps.json")
    payload["form_response"]["hidden"]["brand"] = "acme-rail"

    [submission] = adapter.parse(payload, channel(brand_hidden_field="brand"))

    assert submission.brand == "acme-rail"


def test_the_default_stage_applies_when_the_hidden_field_is_absent(fixture_payload, channel):
    payload = fixture_payload("typeform", "form_response_nps.json")
    del payload["form_response"]["hidden"]["journey_stage"]

    [submission] = adapter.parse(payload, channel(default_stage="in-flight"))

    assert submission.journey_stage == "in-flight"


def test_partial_responses_give_no_submission(fixture_payload, channel):
    payload = fixture_payload("typeform", "form_response_nps.json")
    payload["event_type"] = "form_response_partial"

    assert adapter.parse(payload, channel()) == []


@pytest.mark.parametrize("payload", [None, [], "form_response", json.loads('{"event_type": "form_response"}')])
def test_a_payload_that_is_not_a_form_response_is_refused_with_reasons(payload, channel):
    with pytest.raises(PayloadInvalid) as raised:
        adapter.parse(payload, channel())
    assert raised.value.errors
