"""Topic tags (ideas included) and emerging terms: bursts reported, steady terms not, memory bounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cxpulse_scorer.domain.topics import (
    IDEA_TOPIC,
    EmergingTerm,
    EmergingTerms,
    TopicConfigError,
    TopicTagger,
    extract_terms,
    load_topic_tagger,
)

TOPICS_FILE = Path(__file__).resolve().parents[3] / "config" / "topics.yaml"
HANG_GUARD_SECONDS = 1.0
HOUR = 3_600.0
START = datetime(2025, 3, 1, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def tagger() -> TopicTagger:
    return load_topic_tagger(TOPICS_FILE)


def test_the_topics_cover_airline_telecom_and_retail(tagger: TopicTagger) -> None:
    expected = {"delay", "cancellation", "lost-luggage", "damaged-luggage", "refund", "billing", "outage",
                "rude-staff", "helpful-staff", "wifi", "seat", "food", "app", "website", "price",
                "loyalty-points", "delivery", "network", IDEA_TOPIC}  # fmt: skip
    assert expected <= set(tagger.topics)


def test_every_example_in_the_file_gets_its_topic(tagger: TopicTagger) -> None:
    missed = {
        example: topic
        for topic, examples in tagger.examples.items()
        for example in examples
        if topic not in tagger.tag(example)
    }
    assert not missed


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("Flight delayed 2 hrs and the wifi never worked.", ["delay", "wifi"]),
        ("You lost my luggage and the agent was rude about it.", ["lost-luggage", "rude-staff"]),
        ("Delayed bags again at Heathrow", ["lost-luggage"]),
        ("Cancelled flight, still waiting for a refund.", ["cancellation", "refund", "waiting"]),
        ("Want to cancel my subscription, prices keep going up.", ["price", "churn"]),
        ("Broadband outage since 6am, no internet for the kids.", ["outage", "network"]),
        ("Billed twice this month, please fix my bill.", ["billing"]),
        ("The staff at the desk were so helpful.", ["helpful-staff"]),
        ("Agent was not helpful at all.", ["rude-staff"]),
        ("Seat was broken and the meal was cold.", ["seat", "food", "product-quality"]),
        ("Parcel marked delivered, never arrived.", ["delivery"]),
        ("Lovely weather today.", []),
        ("", []),
    ],
)
def test_tags(tagger: TopicTagger, text: str, topics: list[str]) -> None:
    assert tagger.tag(text) == topics


@pytest.mark.parametrize(
    "text",
    [
        "Would love to see a family plan.",
        "Please add Google Pay.",
        "It would be great if the app remembered my passport.",
        "I wish you had more vegan options.",
        "Feature request: let me split the bill.",
        "Why can't I pick a seat in the app?",
        "Suggestion: text me when my parcel is one stop away.",
        "You should add a night mode to the website.",
    ],
)
def test_ideas_are_tagged(tagger: TopicTagger, text: str) -> None:
    assert IDEA_TOPIC in tagger.tag(text)


def test_an_idea_about_the_app_is_also_about_the_app(tagger: TopicTagger) -> None:
    assert tagger.tag("Why can't I change my meal in the app?") == ["food", "app", IDEA_TOPIC]


@pytest.mark.parametrize("text", ["Why can't I get a refund?", "I love this airline.", "Add me to the list"])
def test_complaints_and_praise_are_not_ideas(tagger: TopicTagger, text: str) -> None:
    assert IDEA_TOPIC not in tagger.tag(text)


def test_tags_follow_the_file_order_and_batches_match(tagger: TopicTagger) -> None:
    tags = tagger.tag("wifi down, seat broken, delayed 3 hours")
    assert tags == sorted(tags, key=tagger.topics.index)
    texts = ["lost bag", "rude agent", "nothing here"]
    assert tagger.tag_many(texts) == [tagger.tag(text) for text in texts]


def test_tagging_a_pathological_text_is_bounded(tagger: TopicTagger) -> None:
    for text in [("why cant i " * 10_000)[:100_000], "b" * 100_000, ("on hold " * 20_000)[:100_000]]:
        started = time.perf_counter()
        tagger.tag(text)
        assert time.perf_counter() - started < HANG_GUARD_SECONDS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a mapping"),
        ("topics: {}", "'topics' must be"),
        ("topics:\n  delay: {phrases: []}", "non-empty list"),
        ("topics:\n  delay: {phrases: late}", "non-empty list"),
        ("topics:\n  delay: {phrases: [late], colour: red}", "unknown keys"),
        ("topics:\n  delay: {phrases: ['late ...']}", "gap"),
        ("topics:\n  delay: {phrases: [late], examples: [1, 2]}", "examples"),
    ],
)
def test_loader_errors_name_the_file_and_the_topic(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TopicConfigError, match=message) as raised:
        load_topic_tagger(path)
    assert str(path) in str(raised.value)
    if "delay" in content:
        assert "topic 'delay'" in str(raised.value)


def test_terms_are_words_and_pairs_without_stop_words() -> None:
    assert extract_terms("The app is NOT loading at all, 3rd time today!") == {
        "app",
        "loading",
        "time",
        "app loading",
        "loading time",
    }


FILLER = ["seat", "meal", "crew", "gate", "snack", "window", "pilot", "lounge", "coffee", "screen", "blanket"]


def _filler(index: int) -> str:
    return " ".join(FILLER[(index * step) % len(FILLER)] for step in (1, 3, 7))


def _feed(
    tracker: EmergingTerms,
    brand: str,
    hours: range,
    per_hour: int,
    burst_from_hour: int,
    burst: str,
    steady: str,
) -> None:
    for hour in hours:
        for index in range(per_hour):
            parts = [_filler(hour * per_hour + index)]
            if index % 10 == 0:
                parts.append(steady)
            if hour >= burst_from_hour and index % 3 == 0:
                parts.append(burst)
            tracker.observe(brand, START + hour * HOUR + index, " ".join(parts))


def test_a_burst_is_reported_and_a_steady_phrase_is_not() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=3, baseline_half_life_buckets=48)
    _feed(tracker, "acme-air", range(72), 30, burst_from_hour=69, burst="broken jet bridge", steady="wifi")
    now = START + 72 * HOUR - 1
    found = {term.term: term for term in tracker.emerging("acme-air", now, min_count=5, min_lift=3.0)}
    assert "jet bridge" in found
    assert "broken jet" in found
    assert "jet" not in found, "a word explained by a reported pair is left out"
    assert "wifi" not in found
    assert not any(word in found for word in FILLER)
    bridge = found["jet bridge"]
    assert bridge.recent_count == 30
    assert bridge.baseline_share == 0.0
    assert bridge.recent_share == pytest.approx(30 / 90)
    assert bridge.lift > 3


def test_nothing_emerges_without_a_baseline_or_before_the_burst() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=3)
    _feed(tracker, "acme-air", range(3), 30, burst_from_hour=0, burst="broken jet bridge", steady="wifi")
    assert tracker.emerging("acme-air", START + 3 * HOUR - 1, min_count=5, min_lift=3.0) == []
    assert tracker.emerging("other-brand", START, min_count=1, min_lift=1.0) == []


def test_the_burst_fades_once_it_is_the_baseline() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=3, baseline_half_life_buckets=24)
    _feed(tracker, "acme-air", range(120), 30, burst_from_hour=48, burst="broken jet bridge", steady="wifi")
    found = [term.term for term in tracker.emerging("acme-air", START + 120 * HOUR - 1)]
    assert "jet bridge" not in found


def test_brands_are_tracked_apart_and_results_are_deterministic() -> None:
    def run() -> tuple[list[EmergingTerm], list[EmergingTerm]]:
        tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=3, capacity=50)
        _feed(tracker, "acme-air", range(48), 20, burst_from_hour=45, burst="lost bags", steady="wifi")
        _feed(tracker, "globex-air", range(48), 20, burst_from_hour=99, burst="never", steady="wifi")
        now = datetime.fromtimestamp(START + 48 * HOUR - 1, tz=UTC)
        return tracker.emerging("acme-air", now), tracker.emerging("globex-air", now)

    first = run()
    assert first == run()
    acme, globex = first
    assert [term.term for term in acme][:1] == ["lost bags"]
    assert globex == []


def test_late_events_land_in_their_own_window() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=2)
    _feed(tracker, "acme-air", range(30), 20, burst_from_hour=99, burst="-", steady="wifi")
    for index in range(20):
        tracker.observe("acme-air", START + 2 * HOUR + index, "old news about a strike")
    found = [term.term for term in tracker.emerging("acme-air", START + 30 * HOUR - 1, min_count=3)]
    assert "strike" not in found


def _word(number: int) -> str:
    letters = []
    while True:
        number, digit = divmod(number, 26)
        letters.append(chr(ord("a") + digit))
        if not number:
            return "z" + "".join(letters)


def test_memory_stays_bounded_with_100k_distinct_tokens() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=4, capacity=500)
    for index in range(100_000):
        tracker.observe("acme-air", START + index * 2, _word(index))
        assert index % 5_000 or tracker.tracked_terms("acme-air") <= tracker.max_terms_per_brand
    assert tracker.tracked_terms("acme-air") <= tracker.max_terms_per_brand == 5_000


def test_a_burst_survives_pruning_under_many_rare_terms() -> None:
    tracker = EmergingTerms(bucket_seconds=HOUR, recent_buckets=2, capacity=50)
    for hour in range(24):
        for index in range(100):
            noise = f"{_word(hour * 100 + index)} {_word(10_000 + hour * 100 + index)}"
            burst = " outage" if hour >= 22 and index % 4 == 0 else ""
            tracker.observe("acme-air", START + hour * HOUR + index, noise + burst)
    assert tracker.tracked_terms("acme-air") <= tracker.max_terms_per_brand
    assert [term.term for term in tracker.emerging("acme-air", START + 24 * HOUR - 1)] == ["outage"]


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        EmergingTerms(capacity=0)


def test_naive_datetimes_are_utc() -> None:
    aware, naive = EmergingTerms(), EmergingTerms()
    moment = datetime(2025, 3, 1, 12, tzinfo=UTC)
    for offset in range(30):
        stamp = moment + timedelta(hours=offset)
        aware.observe("b", stamp, "wifi seat" if offset < 25 else "strike strike")
        naive.observe("b", stamp.replace(tzinfo=None), "wifi seat" if offset < 25 else "strike strike")
    now = moment + timedelta(hours=30)
    assert aware.emerging("b", now, min_count=1) == naive.emerging("b", now.replace(tzinfo=None), min_count=1)
