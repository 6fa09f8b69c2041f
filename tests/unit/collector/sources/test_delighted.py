import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from cxpulse_collector.sources.base import PayloadInvalid, SignatureInvalid
from cxpulse_collector.sources.delighted import DelightedAdapter

API_KEY = "delighted-api-key-current"
OLD_API_KEY = "delighted-api-key-previous"
HEADER = "X-Delighted-Webhook-Signature"
adapter = DelightedAdapter()


def delighted_signature(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def body(fixture_bytes):
    return fixture_bytes("delighted", "survey_response_updated_docs_example.json")


def test_a_body_signed_with_the_api_key_is_accepted(make_request, body, now):
    adapter.verify(make_request(body, {HEADER: delighted_signature(body, API_KEY)}), [API_KEY], now=now)


@pytest.mark.parametrize("key", [OLD_API_KEY, API_KEY])
def test_old_and_new_api_keys_are_both_accepted_during_rotation(make_request, body, now, key):
    adapter.verify(make_request(body, {HEADER: delighted_signature(body, key)}), [OLD_API_KEY, API_KEY], now=now)


def test_a_tampered_body_is_rejected(make_request, body, now):
    request = make_request(body.replace(b'"score": 9', b'"score": 0'), {HEADER: delighted_signature(body, API_KEY)})
    with pytest.raises(SignatureInvalid):
        adapter.verify(request, [API_KEY], now=now)


def test_a_body_signed_with_another_key_is_rejected(make_request, body, now):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, {HEADER: delighted_signature(body, "other")}), [API_KEY], now=now)


def test_a_request_without_signature_is_rejected(make_request, body, now):
    with pytest.raises(SignatureInvalid, match="missing"):
        adapter.verify(make_request(body), [API_KEY], now=now)


@pytest.mark.parametrize("header", ["sha256=not-hex-at-all", "sha256=abc", "md5=00ff", "sha256=\uff21\uff22"])
def test_a_malformed_signature_header_is_rejected(make_request, body, now, header):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, {HEADER: header}), [API_KEY], now=now)


def test_the_documented_nps_response_becomes_a_survey_submission(fixture_payload, channel):
    payload = fixture_payload("delighted", "survey_response_updated_docs_example.json")

    [submission] = adapter.parse(payload, channel(default_stage="post-purchase"))

    assert submission.response_id == "5435"
    assert submission.brand == "acme-air"
    assert (submission.metric, submission.score) == ("nps", 9)
    assert submission.comment == "Your service is fast and flawless!"
    assert submission.journey_stage == "post-purchase"
    assert submission.customer_id is None
    assert submission.occurred_at == datetime.fromtimestamp(1732186844, tz=UTC)


def test_a_seven_point_ces_response_maps_to_ces_with_its_person_properties(fixture_payload, channel):
    [submission] = adapter.parse(fixture_payload("delighted", "survey_response_created_ces7.json"), channel())

    assert submission.response_id == "88120"
    assert (submission.metric, submission.score) == ("ces", 6)
    assert submission.comment is None
    assert submission.journey_stage == "support"
    assert submission.customer_id == "C-1093"


@pytest.mark.parametrize("survey_type", ["ces", "csat3", "stars_five", "smileys", "thumbs", "enps", "pmf"])
def test_survey_types_without_a_same_scale_metric_are_refused(fixture_payload, channel, survey_type):
    payload = fixture_payload("delighted", "survey_response_created_ces7.json")
    payload["event_data"]["survey_type"] = survey_type
    payload["event_data"]["score"] = 3

    with pytest.raises(PayloadInvalid, match=r"event_data\.survey_type"):
        adapter.parse(payload, channel())


@pytest.mark.parametrize(("survey_type", "score"), [("nps", 11), ("nps", -1), ("csat", 6), ("ces7", 0)])
def test_an_out_of_range_score_is_refused(fixture_payload, channel, survey_type, score):
    payload = fixture_payload("delighted", "survey_response_created_ces7.json")
    payload["event_data"]["survey_type"] = survey_type
    payload["event_data"]["score"] = score

    with pytest.raises(PayloadInvalid, match="score must be between"):
        adapter.parse(payload, channel())


def test_a_csat_response_keeps_its_score(fixture_payload, channel):
    payload = fixture_payload("delighted", "survey_response_created_ces7.json")
    payload["event_data"].update(survey_type="csat", score=5)

    [submission] = adapter.parse(payload, channel())

    assert (submission.metric, submission.score) == ("csat", 5)


def test_configured_properties_name_the_stage_customer_and_brand(fixture_payload, channel):
    payload = fixture_payload("delighted", "survey_response_created_ces7.json")
    payload["event_data"]["person_properties"] = {"Stage": "billing", "Account": "A-9", "Brand": "acme-rail"}

    [submission] = adapter.parse(
        payload, channel(stage_property="Stage", customer_id_property="Account", brand_property="Brand")
    )

    assert (submission.journey_stage, submission.customer_id, submission.brand) == (
        "billing",
        "A-9",
        "acme-rail",
    )


def test_an_unsubscribe_gives_nothing(channel):
    payload = {
        "event_type": "unsubscribe.created",
        "event_id": "e1",
        "event_data": {"person": {"id": "5975"}},
    }
    assert adapter.parse(payload, channel()) == []


def test_a_response_without_stage_or_default_is_refused(fixture_payload, channel):
    with pytest.raises(PayloadInvalid, match="default_stage"):
        adapter.parse(fixture_payload("delighted", "survey_response_updated_docs_example.json"), channel())
