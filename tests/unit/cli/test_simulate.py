from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from statistics import median
from typing import Any

import pytest
from pydantic import ValidationError

from cxpulse_cli import simulate_text
from cxpulse_cli.simulate import (
    BRAND_STAGES,
    CRISIS_BRAND,
    CRISIS_STAGE,
    SimulatedItem,
    batched,
    crisis_window,
    simulate,
)
from cxpulse_contracts.events import MentionSubmission, SurveySubmission

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
SPAN = timedelta(hours=6)
INFLUENCER_FOLLOWERS = 100_000


@pytest.fixture(scope="module")
def stream() -> list[SimulatedItem]:
    return list(simulate(seed=7, events=2000, start=START, span=SPAN))


@pytest.fixture(scope="module")
def fresh(stream: list[SimulatedItem]) -> list[SimulatedItem]:
    return [item for item in stream if not item.duplicate_of_earlier and not item.invalid]


def validate(item: SimulatedItem) -> None:
    if item.kind == "survey":
        SurveySubmission.model_validate(item.body)
    else:
        MentionSubmission.model_validate(item.body)


def occurred_at(item: SimulatedItem) -> datetime:
    return datetime.fromisoformat(item.body["occurred_at"])


def source_id(item: SimulatedItem) -> str:
    return str(item.body["response_id"] if item.kind == "survey" else item.body["mention_id"])


def template_pattern(template: str) -> str:
    """A regular expression matching whatever text the template renders to."""
    parts = []
    for literal, slot, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if slot is not None:
            parts.append(".+?")
    return "".join(parts)


@cache
def tone_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every template of the module, with the tone it was written in; crisis posts are complaints."""
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for texts in (simulate_text.AIRLINE_TEXT, simulate_text.TELECOM_TEXT, simulate_text.RETAIL_TEXT):
        for tones in texts.values():
            for tone, templates in tones.items():
                patterns.extend((tone, re.compile(template_pattern(template))) for template in templates)
    crisis_templates = (
        *simulate_text.CRISIS_COMPLAINTS,
        *simulate_text.CRISIS_SURVEY_COMMENTS,
        *simulate_text.VIRAL_SHARES,
        simulate_text.VIRAL_ORIGIN_POST,
        simulate_text.INFLUENCER_POST,
    )
    patterns.extend(("complaint", re.compile(template_pattern(template))) for template in crisis_templates)
    return tuple(patterns)


def tones_of(text: str) -> set[str]:
    return {tone for tone, pattern in tone_patterns() if pattern.search(text)}


def is_complaint(item: SimulatedItem) -> bool:
    return "complaint" in tones_of(item.body["text"])


def per_hour(count: int, duration: timedelta) -> float:
    return count / (duration / timedelta(hours=1))


def crisis_brand_mentions(items: Iterable[SimulatedItem]) -> list[SimulatedItem]:
    return [item for item in items if item.kind == "mention" and item.body["brand"] == CRISIS_BRAND]


def split_by_crisis(items: Iterable[SimulatedItem]) -> tuple[list[SimulatedItem], list[SimulatedItem]]:
    crisis_start, crisis_end = crisis_window(START, SPAN)
    before = [item for item in items if occurred_at(item) < crisis_start]
    during = [item for item in items if crisis_start <= occurred_at(item) < crisis_end]
    return before, during


def net_promoter_score(items: Iterable[SimulatedItem]) -> float:
    scores = [int(item.body["score"]) for item in items]
    promoters = sum(score >= 9 for score in scores)
    detractors = sum(score <= 6 for score in scores)
    return 100 * (promoters - detractors) / len(scores)


def test_the_stream_has_exactly_the_requested_number_of_items(stream: list[SimulatedItem]) -> None:
    assert len(stream) == 2000
    kinds = Counter(item.kind for item in stream)
    assert kinds["survey"] > 600
    assert kinds["mention"] > 600


def test_every_valid_body_validates_against_its_submission_model(stream: list[SimulatedItem]) -> None:
    for item in stream:
        if not item.invalid:
            validate(item)


def test_every_invalid_body_is_rejected_by_its_submission_model() -> None:
    items = list(simulate(seed=3, events=1000, start=START, invalid_rate=0.2))
    invalid = [item for item in items if item.invalid]
    assert {item.kind for item in invalid} == {"survey", "mention"}
    for item in invalid:
        with pytest.raises(ValidationError):
            validate(item)
    assert any(item.body.get("metric") == "nps" and item.body.get("score") == 11 for item in invalid)


def test_default_rates_give_a_few_duplicates_and_rejections(stream: list[SimulatedItem]) -> None:
    duplicates = sum(item.duplicate_of_earlier for item in stream)
    invalid = sum(item.invalid for item in stream)
    assert 20 <= duplicates <= 65
    assert 2 <= invalid <= 25
    assert not any(item.duplicate_of_earlier and item.invalid for item in stream)


def test_rates_of_zero_give_a_clean_stream() -> None:
    items = list(simulate(events=500, start=START, duplicate_rate=0, invalid_rate=0))
    assert not any(item.duplicate_of_earlier or item.invalid for item in items)


def test_the_same_seed_and_start_give_the_same_stream(stream: list[SimulatedItem]) -> None:
    assert list(simulate(seed=7, events=2000, start=START, span=SPAN)) == stream


def test_another_seed_or_start_gives_another_stream(stream: list[SimulatedItem]) -> None:
    other_seed = list(simulate(seed=8, events=2000, start=START, span=SPAN))
    assert [item.body for item in other_seed] != [item.body for item in stream]
    later = list(simulate(seed=7, events=2000, start=START + timedelta(days=1), span=SPAN))
    assert not {source_id(item) for item in later} & {source_id(item) for item in stream}


def test_fresh_items_come_in_event_time_order_with_an_offset(fresh: list[SimulatedItem]) -> None:
    moments = [occurred_at(item) for item in fresh]
    assert all(moment.utcoffset() is not None for moment in moments)
    assert moments == sorted(moments)
    assert moments[0] >= START
    assert moments[-1] < START + SPAN


def test_the_offset_of_the_start_is_kept() -> None:
    paris = timezone(timedelta(hours=2))
    item = next(simulate(events=10, start=START.astimezone(paris)))
    assert item.body["occurred_at"].endswith("+02:00")


def test_fresh_ids_are_unique(fresh: list[SimulatedItem]) -> None:
    ids = [source_id(item) for item in fresh]
    assert len(set(ids)) == len(ids)


def test_duplicates_resend_an_earlier_body(stream: list[SimulatedItem]) -> None:
    sent: dict[str, dict[str, object]] = {}
    duplicates = 0
    for item in stream:
        if item.duplicate_of_earlier:
            duplicates += 1
            assert sent[source_id(item)] == item.body
        elif not item.invalid:
            sent[source_id(item)] = item.body
    assert duplicates > 0


def test_every_stage_of_every_brand_appears(fresh: list[SimulatedItem]) -> None:
    seen = {(item.body["brand"], item.body["journey_stage"]) for item in fresh if item.kind == "survey"}
    expected = {(brand, stage) for brand, stages in BRAND_STAGES.items() for stage in stages}
    assert seen == expected
    assert len(BRAND_STAGES) >= 3
    assert BRAND_STAGES[CRISIS_BRAND] == ("booking", "airport", "flight", "baggage", "support", "loyalty")
    assert CRISIS_STAGE in BRAND_STAGES[CRISIS_BRAND]


def test_every_brand_posts_on_every_platform(fresh: list[SimulatedItem]) -> None:
    seen = {(item.body["brand"], item.body["platform"]) for item in fresh if item.kind == "mention"}
    platforms = {"x", "reddit", "instagram", "facebook", "tiktok"}
    assert seen == {(brand, platform) for brand in BRAND_STAGES for platform in platforms}


def test_about_thirty_percent_of_surveys_have_no_comment(fresh: list[SimulatedItem]) -> None:
    surveys = [item for item in fresh if item.kind == "survey"]
    without_comment = sum(item.body["comment"] is None for item in surveys) / len(surveys)
    assert 0.22 < without_comment < 0.38


def test_every_template_uses_known_slots_and_every_stage_has_every_tone() -> None:
    known = set(simulate_text.SLOT_VALUES) | {"brand", "handle", "url"}
    for texts in (simulate_text.AIRLINE_TEXT, simulate_text.TELECOM_TEXT, simulate_text.RETAIL_TEXT):
        for tones in texts.values():
            assert set(tones) == {"praise", "complaint", "neutral", "idea"}
            for templates in tones.values():
                assert templates
                for template in templates:
                    used = {slot for _, slot, _, _ in string.Formatter().parse(template) if slot}
                    assert used <= known, template


def test_every_stage_has_text_for_its_brand() -> None:
    texts_by_brand = {
        "acme-air": simulate_text.AIRLINE_TEXT,
        "northwind-mobile": simulate_text.TELECOM_TEXT,
        "globex-shop": simulate_text.RETAIL_TEXT,
    }
    for brand, stages in BRAND_STAGES.items():
        assert set(texts_by_brand[brand]) == set(stages)


def test_comments_match_the_score(fresh: list[SimulatedItem]) -> None:
    commented = [item for item in fresh if item.kind == "survey" and item.body["comment"]]
    promoters = [item for item in commented if item.body["metric"] == "nps" and item.body["score"] >= 9]
    detractors = [item for item in commented if item.body["metric"] == "nps" and item.body["score"] <= 6]
    assert promoters
    assert detractors
    for item in promoters:
        assert tones_of(item.body["comment"]) & {"praise", "idea"}, item.body["comment"]
    for item in detractors:
        assert "complaint" in tones_of(item.body["comment"]), item.body["comment"]


def test_the_mix_has_praise_complaints_questions_and_ideas(fresh: list[SimulatedItem]) -> None:
    texts = [item.body["text"] for item in fresh if item.kind == "mention"]
    tones = Counter(tone for text in texts for tone in tones_of(text))
    assert all(tones[tone] > 50 for tone in ("praise", "complaint", "neutral", "idea"))
    assert any("Would love an option to" in text for text in texts)


def test_some_complaints_carry_no_sentiment_words(fresh: list[SimulatedItem]) -> None:
    sentiment_words = re.compile(r"terrible|awful|rude|worst|useless|ridiculous|disappointed|unbelievable", re.I)
    complaints = [item.body["text"] for item in fresh if item.kind == "mention" and is_complaint(item)]
    assert sum(not sentiment_words.search(text) for text in complaints) > len(complaints) / 4
    comments = [item.body["comment"] or "" for item in fresh if item.kind == "survey"]
    assert any(re.search(r"delayed \d+ hours, no update", text) for text in complaints + comments)


def test_followers_are_heavy_tailed_and_drive_engagement(fresh: list[SimulatedItem]) -> None:
    authors = {
        item.body["author"]["handle"]: item.body["author"]["followers"] for item in fresh if item.kind == "mention"
    }
    followers = list(authors.values())
    assert sum(count < 1000 for count in followers) > 0.85 * len(followers)
    assert sum(count > INFLUENCER_FOLLOWERS for count in followers) >= 2

    def mean_likes(low: int, high: int) -> float:
        likes = [
            int(item.body["engagement"]["likes"])
            for item in fresh
            if item.kind == "mention" and low <= item.body["author"]["followers"] < high
        ]
        return sum(likes) / len(likes)

    assert mean_likes(10_000, 10**9) > 10 * mean_likes(0, 1_000)


def test_an_author_keeps_their_follower_count(fresh: list[SimulatedItem]) -> None:
    followers_by_handle: dict[str, set[int]] = {}
    for item in fresh:
        if item.kind == "mention":
            author = item.body["author"]
            followers_by_handle.setdefault(author["handle"], set()).add(author["followers"])
    assert all(len(counts) == 1 for counts in followers_by_handle.values())


def test_the_crisis_brand_mention_volume_rises_several_fold(fresh: list[SimulatedItem]) -> None:
    before, during = split_by_crisis(crisis_brand_mentions(fresh))
    crisis_start, crisis_end = crisis_window(START, SPAN)
    rate_before = per_hour(len(before), crisis_start - START)
    rate_during = per_hour(len(during), crisis_end - crisis_start)
    assert rate_during > 3 * rate_before
    assert len({item.body["author"]["handle"] for item in during}) > 2 * len(
        {item.body["author"]["handle"] for item in before}
    )


def test_other_brands_keep_their_usual_volume(fresh: list[SimulatedItem]) -> None:
    others = [item for item in fresh if item.kind == "mention" and item.body["brand"] != CRISIS_BRAND]
    before, during = split_by_crisis(others)
    crisis_start, crisis_end = crisis_window(START, SPAN)
    ratio = per_hour(len(during), crisis_end - crisis_start) / per_hour(len(before), crisis_start - START)
    assert 0.7 < ratio < 1.4


def test_the_crisis_brand_swings_negative(fresh: list[SimulatedItem]) -> None:
    before, during = split_by_crisis(crisis_brand_mentions(fresh))
    share_before = sum(map(is_complaint, before)) / len(before)
    share_during = sum(map(is_complaint, during)) / len(during)
    assert share_during > share_before + 0.2
    assert share_during > 0.8


def test_baggage_nps_drops_during_the_crisis() -> None:
    # A longer stream than the fixture's, for enough baggage answers before the crisis to measure an NPS.
    baggage_nps = [
        item
        for item in simulate(events=10_000, start=START, span=SPAN, duplicate_rate=0, invalid_rate=0)
        if item.kind == "survey"
        and item.body["brand"] == CRISIS_BRAND
        and item.body["journey_stage"] == CRISIS_STAGE
        and item.body["metric"] == "nps"
    ]
    before, during = split_by_crisis(baggage_nps)
    assert net_promoter_score(during) < net_promoter_score(before) - 25


def test_an_influencer_complains_during_the_crisis(fresh: list[SimulatedItem]) -> None:
    _, during = split_by_crisis(crisis_brand_mentions(fresh))
    influencer_complaints = [
        item for item in during if item.body["author"]["followers"] > INFLUENCER_FOLLOWERS and is_complaint(item)
    ]
    assert influencer_complaints
    assert max(item.body["engagement"]["likes"] for item in influencer_complaints) > 5_000


def test_the_viral_post_draws_growing_engagement(fresh: list[SimulatedItem]) -> None:
    mentions = crisis_brand_mentions(fresh)
    origin = next(item for item in mentions if item.body["author"]["handle"] == simulate_text.VIRAL_ORIGIN_HANDLE)
    shares = [item for item in mentions if origin.body["url"] in item.body["text"]]
    assert len(shares) > 20

    half = len(shares) // 2
    earlier, later = shares[:half], shares[half:]
    assert median(item.body["engagement"]["likes"] for item in later) > 3 * median(
        item.body["engagement"]["likes"] for item in earlier
    )


def test_without_the_crisis_the_crisis_brand_stays_flat() -> None:
    calm = [item for item in simulate(events=2000, start=START, span=SPAN, crisis=False) if not item.invalid]
    before, during = split_by_crisis(crisis_brand_mentions(item for item in calm if not item.duplicate_of_earlier))
    crisis_start, crisis_end = crisis_window(START, SPAN)
    ratio = per_hour(len(during), crisis_end - crisis_start) / per_hour(len(before), crisis_start - START)
    assert 0.7 < ratio < 1.4
    assert not any(
        item.body["author"]["handle"] == simulate_text.CRISIS_INFLUENCER_HANDLE
        for item in calm
        if item.kind == "mention"
    )


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"start": datetime(2024, 5, 1)}, "timezone-aware"),
        ({"start": START, "events": -1}, "events"),
        ({"start": START, "span": timedelta(0)}, "span"),
        ({"start": START, "duplicate_rate": 1.5}, "rate"),
        ({"start": START, "duplicate_rate": 0.6, "invalid_rate": 0.6}, "rate"),
    ],
)
def test_nonsense_arguments_are_refused_at_once(arguments: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        simulate(**arguments)


def test_zero_events_give_an_empty_stream() -> None:
    assert list(simulate(events=0, start=START)) == []


def test_batched_splits_into_lists_of_the_given_size() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="size"):
        batched(range(3), 0)
