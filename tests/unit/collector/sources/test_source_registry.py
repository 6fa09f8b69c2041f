"""What holds for every source adapter: discovery, and no exception but the two the collector maps."""

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxpulse_collector.sources.base import ChannelContext, PayloadInvalid, SignatureInvalid, SourceRequest
from cxpulse_collector.sources.registry import load_adapters

SLUGS = ("typeform", "formbricks", "delighted", "zendesk", "x")
ADAPTERS = load_adapters()
CHANNEL = ChannelContext(name="web", brand="acme-air", options={"score_question_id": "nps", "default_stage": "web"})
NOW = datetime(2024, 5, 2, 14, 5, tzinfo=UTC)
HEADERS = (
    "typeform-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-delighted-webhook-signature",
    "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp",
    "x-twitter-webhooks-signature",
)
WEIRD_VALUES = (None, True, -1, 10**30, 1.5, "", "x", [], [1, "a"], {}, {"id": ["unhashable"]})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def test_load_adapters_finds_every_source():
    assert set(SLUGS) <= set(ADAPTERS)
    assert [slug for slug in SLUGS if ADAPTERS[slug].answers_challenge] == ["x"]


@pytest.mark.parametrize("slug", SLUGS)
@settings(max_examples=150, deadline=None)
@given(payload=json_values)
def test_parse_raises_nothing_but_payload_invalid_on_any_json(slug, payload):
    with contextlib.suppress(PayloadInvalid):
        assert isinstance(ADAPTERS[slug].parse(payload, CHANNEL), list)


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    yield path


def _replaced(document, path, new_value):
    if not path:
        return new_value
    copy = json.loads(json.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new_value
    return copy


FIXTURE_CASES = [
    ("typeform", "form_response_nps.json"),
    ("formbricks", "response_finished_nps.json"),
    ("delighted", "survey_response_created_ces7.json"),
    ("zendesk", "csat_trigger_bad_with_comment.json"),
    ("x", "tweet_create_events_extended.json"),
]


@pytest.mark.parametrize(("slug", "name"), FIXTURE_CASES)
def test_parse_survives_any_field_of_a_real_payload_being_wrong(fixture_payload, slug, name):
    """Every field of a documented payload, in turn, replaced by every kind of wrong value."""
    payload = fixture_payload(slug, name)
    for path in list(_leaves(payload)):
        for weird in WEIRD_VALUES:
            with contextlib.suppress(PayloadInvalid):
                ADAPTERS[slug].parse(_replaced(payload, path, weird), CHANNEL)


@pytest.mark.parametrize("slug", SLUGS)
@settings(max_examples=150, deadline=None)
@given(
    headers=st.dictionaries(st.sampled_from(HEADERS), st.text(max_size=60), max_size=len(HEADERS)),
    body=st.binary(max_size=64),
    secrets=st.lists(st.text(max_size=16), max_size=3),
)
def test_verify_raises_nothing_but_signature_invalid_on_any_request(slug, headers, body, secrets):
    request = SourceRequest(method="POST", url="https://collector.example/", headers=headers, query={}, body=body)
    with pytest.raises(SignatureInvalid):
        ADAPTERS[slug].verify(request, secrets, now=NOW)
