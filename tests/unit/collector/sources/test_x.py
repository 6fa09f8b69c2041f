import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from cxpulse_collector.sources.base import PayloadInvalid, SignatureInvalid
from cxpulse_collector.sources.x import XAdapter

CONSUMER_SECRET = "x-consumer-secret-current"
OLD_CONSUMER_SECRET = "x-consumer-secret-previous"
HEADER = "x-twitter-webhooks-signature"
adapter = XAdapter()


def x_signature(message: bytes, secret: str) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@pytest.fixture
def body(fixture_bytes):
    return fixture_bytes("x", "tweet_create_events_extended.json")


def test_the_crc_answer_is_the_documented_hmac_of_the_token(make_request):
    token = "challenge_string"
    expected = "sha256=" + base64.b64encode(
        hmac.new(CONSUMER_SECRET.encode(), token.encode(), hashlib.sha256).digest()
    ).decode("ascii")

    answer = adapter.challenge(make_request(method="GET", query={"crc_token": token}), [CONSUMER_SECRET])

    assert answer == {"response_token": expected}


def test_the_crc_is_answered_with_the_first_secret(make_request):
    request = make_request(method="GET", query={"crc_token": "t"})
    assert adapter.challenge(request, [CONSUMER_SECRET, OLD_CONSUMER_SECRET]) == {
        "response_token": x_signature(b"t", CONSUMER_SECRET)
    }


def test_x_is_the_only_source_answering_a_challenge():
    assert XAdapter.answers_challenge is True


@pytest.mark.parametrize(
    ("query", "secrets"),
    [({}, [CONSUMER_SECRET]), ({"crc_token": ""}, [CONSUMER_SECRET]), ({"crc_token": "t"}, [])],
)
def test_a_crc_that_cannot_be_answered_is_refused(make_request, query, secrets):
    with pytest.raises(SignatureInvalid):
        adapter.challenge(make_request(method="GET", query=query), secrets)


def test_a_delivery_signed_with_the_consumer_secret_is_accepted(make_request, body, now):
    adapter.verify(make_request(body, {HEADER: x_signature(body, CONSUMER_SECRET)}), [CONSUMER_SECRET], now=now)


@pytest.mark.parametrize("secret", [OLD_CONSUMER_SECRET, CONSUMER_SECRET])
def test_old_and_new_secrets_are_both_accepted_during_rotation(make_request, body, now, secret):
    request = make_request(body, {HEADER: x_signature(body, secret)})
    adapter.verify(request, [CONSUMER_SECRET, OLD_CONSUMER_SECRET], now=now)


def test_a_tampered_body_is_rejected(make_request, body, now):
    request = make_request(body.replace(b"third delay", b"first delay"), {HEADER: x_signature(body, CONSUMER_SECRET)})
    with pytest.raises(SignatureInvalid):
        adapter.verify(request, [CONSUMER_SECRET], now=now)


def test_a_delivery_signed_with_another_secret_is_rejected(make_request, body, now):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, {HEADER: x_signature(body, "other")}), [CONSUMER_SECRET], now=now)


def test_a_delivery_without_signature_is_rejected(make_request, body, now):
    with pytest.raises(SignatureInvalid, match="missing"):
        adapter.verify(make_request(body), [CONSUMER_SECRET], now=now)


@pytest.mark.parametrize("header", ["sha256=~~~", "sha1=AAAA", "c2lnbmF0dXJl", "sha256=ü"])
def test_a_malformed_signature_header_is_rejected(make_request, body, now, header):
    with pytest.raises(SignatureInvalid):
        adapter.verify(make_request(body, {HEADER: header}), [CONSUMER_SECRET], now=now)


def test_the_documented_mention_becomes_a_mention_submission(fixture_payload, channel):
    [mention] = adapter.parse(fixture_payload("x", "tweet_create_events_docs_example.json"), channel())

    assert mention.mention_id == "1050118621198921728"
    assert mention.brand == "acme-air"
    assert mention.platform == "x"
    assert (mention.author.handle, mention.author.followers) == ("TwitterAPI", 6128663)
    assert mention.text.startswith("To make room for more expression")
    assert mention.url == "https://x.com/TwitterAPI/status/1050118621198921728"
    assert (mention.engagement.likes, mention.engagement.shares, mention.engagement.replies) == (296, 161, 0)
    assert mention.language == "en"
    assert mention.occurred_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)


def test_a_long_post_is_read_from_its_extended_text(fixture_payload, channel):
    payload = fixture_payload("x", "tweet_create_events_extended.json")

    [mention] = adapter.parse(payload, channel())

    assert mention.text == payload["tweet_create_events"][0]["extended_tweet"]["full_text"]
    assert (mention.author.handle, mention.author.followers) == ("priya_flies", 1843)
    assert (mention.engagement.likes, mention.engagement.shares, mention.engagement.replies) == (61, 14, 5)
    assert mention.url == "https://x.com/priya_flies/status/1775225960838303744"


def test_timestamp_ms_dates_a_post_without_created_at(fixture_payload, channel):
    payload = fixture_payload("x", "tweet_create_events_extended.json")
    del payload["tweet_create_events"][0]["created_at"]

    [mention] = adapter.parse(payload, channel())

    assert mention.occurred_at == datetime.fromtimestamp(1712079912.661, tz=UTC)


def test_posts_by_the_subscribed_account_itself_are_skipped(fixture_payload, channel):
    payload = fixture_payload("x", "tweet_create_events_docs_example.json")
    payload["for_user_id"] = "6253282"
    assert adapter.parse(payload, channel()) == []


@pytest.mark.parametrize("name", ["favorite_events_docs_example.json", "follow_events_docs_example.json"])
def test_activity_other_than_posts_gives_nothing(fixture_payload, channel, name):
    assert adapter.parse(fixture_payload("x", name), channel()) == []


def test_every_unusable_post_of_a_delivery_is_named(fixture_payload, channel):
    payload = fixture_payload("x", "tweet_create_events_extended.json")
    good, broken = payload["tweet_create_events"][0], dict(payload["tweet_create_events"][0])
    broken.pop("extended_tweet")
    broken.pop("text")
    broken["created_at"] = "yesterday"
    broken.pop("timestamp_ms")
    payload["tweet_create_events"] = [good, broken]

    with pytest.raises(PayloadInvalid) as raised:
        adapter.parse(payload, channel())

    assert raised.value.errors == [
        "tweet_create_events[1].text: is missing",
        "tweet_create_events[1].created_at: is not a post date: 'yesterday'",
    ]
