"""Property tests of the satisfaction math: bounds, denominators, merging and windows."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from cxpulse_scorer.domain.satisfaction import (
    COARSE_BUCKET,
    FINE_BUCKET,
    WINDOWS,
    SatisfactionCounts,
    figures,
    floor_to,
    mention_counts,
    survey_counts,
    window_buckets,
)

metrics_and_scores = st.one_of(
    st.tuples(st.just("nps"), st.integers(0, 10)),
    st.tuples(st.just("csat"), st.integers(1, 5)),
    st.tuples(st.just("ces"), st.integers(1, 7)),
)
labels = st.sampled_from(["positive", "neutral", "negative", "unsupported"])
surveys = st.builds(lambda metric_score, label: survey_counts(*metric_score, label), metrics_and_scores, labels)
mentions = st.builds(mention_counts, labels, st.integers(0, 10**7))
event_counts = st.lists(st.one_of(surveys, mentions), max_size=60)
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


def total(counts: list[SatisfactionCounts]) -> SatisfactionCounts:
    return reduce(lambda left, right: left + right, counts, SatisfactionCounts())


@given(event_counts)
def test_every_figure_stays_in_its_range(counts: list[SatisfactionCounts]) -> None:
    derived = figures(total(counts), min_responses=1)
    if derived.nps is not None:
        assert -100 <= derived.nps <= 100
    if derived.csat is not None:
        assert 0 <= derived.csat <= 100
        assert derived.csat_mean is not None
        assert 1 <= derived.csat_mean <= 5
    if derived.ces_mean is not None:
        assert 1 <= derived.ces_mean <= 7
        assert derived.ces_easy_pct is not None
        assert 0 <= derived.ces_easy_pct <= 100
    net = derived.sentiment["net"]
    if net is not None:
        assert -100 <= net <= 100


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_passives_count_in_the_nps_denominator(promoters: int, passives: int, detractors: int) -> None:
    answers = [survey_counts("nps", 10, "positive")] * promoters
    answers += [survey_counts("nps", 7, "neutral")] * passives
    answers += [survey_counts("nps", 0, "negative")] * detractors
    derived = figures(total(answers), min_responses=1)
    responses = promoters + passives + detractors
    if responses == 0:
        assert derived.nps is None
    else:
        assert derived.nps == round(100 * (promoters - detractors) / responses, 2)


@given(event_counts, st.randoms(use_true_random=False))
def test_merging_is_order_free_and_associative(counts: list[SatisfactionCounts], shuffler: random.Random) -> None:
    shuffled = counts[:]
    shuffler.shuffle(shuffled)
    split = len(counts) // 2
    assert total(counts) == total(shuffled)
    assert total(counts) == total(counts[:split]) + total(counts[split:])


@given(st.integers(1, 40))
def test_a_figure_below_the_minimum_is_null_and_insufficient(minimum: int) -> None:
    answers = total([survey_counts("nps", 9, "positive")] * (minimum - 1))
    derived = figures(answers, min_responses=minimum)
    assert derived.nps is None
    assert derived.sufficient is False
    assert figures(answers + survey_counts("nps", 9, "positive"), min_responses=minimum).sufficient is True


def span_of(plan: list[tuple[str, datetime]]) -> list[tuple[datetime, datetime]]:
    return [(start, start + (COARSE_BUCKET if granularity == "h" else FINE_BUCKET)) for granularity, start in plan]


@given(moments, st.sampled_from(list(WINDOWS)))
def test_window_buckets_tile_the_window_exactly(at: datetime, window_name: str) -> None:
    window = WINDOWS[window_name]
    spans = span_of(window_buckets(at, window))
    end = floor_to(at, FINE_BUCKET) + FINE_BUCKET
    assert spans[0][0] == end - window
    assert spans[-1][1] == end
    assert all(left[1] == right[0] for left, right in itertools.pairwise(spans))
    assert all(start == floor_to(start, COARSE_BUCKET) for (start, stop) in spans if stop - start == COARSE_BUCKET)


@given(moments)
def test_windows_add_up_one_day_is_twenty_four_hours(at: datetime) -> None:
    day = span_of(window_buckets(at, WINDOWS["24h"]))
    hours = [span_of(window_buckets(at - timedelta(hours=offset), WINDOWS["1h"])) for offset in range(24)]
    covered = sorted(span for hour in hours for span in hour)
    assert covered[0][0] == day[0][0]
    assert covered[-1][1] == day[-1][1]
    assert sum((stop - start for start, stop in covered), timedelta()) == timedelta(hours=24)


@given(moments, moments, st.sampled_from(list(WINDOWS)))
def test_a_late_event_lands_in_the_windows_its_time_belongs_to(at: datetime, occurred: datetime, name: str) -> None:
    """Whether an event counts depends on its event time only, never on when it arrived."""
    window = WINDOWS[name]
    plan = window_buckets(at, window)
    fine, coarse = floor_to(occurred, FINE_BUCKET), floor_to(occurred, COARSE_BUCKET)
    counted = ("m5", fine) in plan or ("h", coarse) in plan
    end = floor_to(at, FINE_BUCKET) + FINE_BUCKET
    assert counted == (end - window <= occurred < end)
