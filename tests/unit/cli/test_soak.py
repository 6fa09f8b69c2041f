from __future__ import annotations

import math
from collections import Counter

import pytest

from cxpulse_cli.bench import ON_DEMAND_SECTIONS, SECTIONS
from cxpulse_cli.bench.soak import SoakEvents, check_delivery, max_by_minute, rss_growth, warmup_for

MIB = 1024 * 1024


def test_growth_runs_from_the_first_readings_after_the_warm_up_to_the_last() -> None:
    # Start-up allocates a lot before 60 s; after it, 100 MiB becomes 107 MiB.
    samples = [(0.0, 20 * MIB), (30.0, 90 * MIB), *((60.0 + 5 * i, (100 + 7 * i / 10) * MIB) for i in range(11))]

    assert rss_growth(samples, warmup_s=60.0, readings=1) == pytest.approx(0.07)


def test_growth_readings_are_medians_so_one_spike_does_not_count() -> None:
    flat_with_spikes = [(60.0, 100), (65.0, 150), (70.0, 100), (75.0, 100), (80.0, 100), (85.0, 180), (90.0, 100)]

    assert rss_growth(flat_with_spikes, warmup_s=60.0, readings=3) == 0.0


def test_shrinking_memory_is_negative_growth() -> None:
    assert rss_growth([(60.0, 200), (70.0, 150)], warmup_s=60.0, readings=1) == pytest.approx(-0.25)


def test_growth_is_nan_without_two_separate_readings_after_the_warm_up() -> None:
    samples = [(0.0, 100), (10.0, 100), (61.0, 100), (66.0, 100), (71.0, 100)]

    assert math.isnan(rss_growth(samples, warmup_s=60.0, readings=2))


def test_a_short_trial_keeps_most_of_its_time_after_the_warm_up() -> None:
    assert warmup_for(600.0) == 60.0
    assert warmup_for(40.0) == 10.0


def test_delivery_counts_accepted_events_missing_from_the_topic_as_lost() -> None:
    delivery = check_delivery({"a", "b", "c"}, Counter({"a": 1, "c": 1, "unrelated": 4}), aggregated=2)

    assert (delivery.accepted, delivery.lost) == (3, 1)
    assert (delivery.scored_topic_copies, delivery.aggregate_duplicates, delivery.aggregate_missing) == (0, 0, 0)


def test_delivery_separates_topic_copies_from_aggregate_duplicates() -> None:
    # `a` was written twice to the scored topic, which consumers de-duplicate: not an aggregate duplicate.
    twice_on_topic = check_delivery({"a", "b"}, Counter({"a": 2, "b": 1}), aggregated=2)
    # Counted three times in the aggregates while two events were scored: one duplicate.
    counted_twice = check_delivery({"a", "b"}, Counter({"a": 1, "b": 1}), aggregated=3)
    # Scored but missing from the aggregates.
    not_counted = check_delivery({"a", "b"}, Counter({"a": 1, "b": 1}), aggregated=1)

    assert (twice_on_topic.scored_topic_copies, twice_on_topic.aggregate_duplicates) == (1, 0)
    assert (counted_twice.scored_topic_copies, counted_twice.aggregate_duplicates) == (0, 1)
    assert (not_counted.aggregate_duplicates, not_counted.aggregate_missing) == (0, 1)


def test_lag_maxima_are_per_minute_of_the_feed() -> None:
    lags = [(5.0, 100.0), (59.9, 300.0), (61.0, 50.0), (150.0, 80.0)]

    assert max_by_minute(lags) == [300.0, 50.0, 80.0]
    assert max_by_minute([]) == []


def test_a_minute_without_events_has_no_maximum() -> None:
    maxima = max_by_minute([(10.0, 5.0), (130.0, 7.0)])

    assert len(maxima) == 3
    assert (maxima[0], maxima[2]) == (5.0, 7.0)
    assert math.isnan(maxima[1])


def test_soak_batches_are_new_events_of_one_kind_in_the_demo_mix() -> None:
    events = SoakEvents(run_tag="t", templates=400)

    batches = [events.next_batch(10) for _ in range(200)]

    ids = [body.get("response_id") or body["mention_id"] for _, batch in batches for body in batch]
    assert len(set(ids)) == len(ids) == 2000
    for kind, batch in batches:
        id_field = "response_id" if kind == "survey" else "mention_id"
        assert all(body[id_field].startswith("soak-t-") for body in batch)
    mention_batches = sum(1 for kind, _ in batches if kind == "mention")
    assert 0 < events.mention_share < 1
    assert abs(mention_batches - 200 * events.mention_share) <= 1


def test_soak_and_knee_run_only_when_named() -> None:
    assert {"soak", "knee"} <= set(ON_DEMAND_SECTIONS)
    assert not {"soak", "knee"} & set(SECTIONS)
