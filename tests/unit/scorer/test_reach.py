"""Reach and influence: the documented formula, monotone in every count, bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxpulse_scorer.domain.reach import (
    AUDIENCE_PER_REPLY,
    AUDIENCE_PER_SHARE,
    MAX_REACH,
    influence,
    influence_of_reach,
    reach,
)

counts = st.integers(min_value=0, max_value=10**12)
engagement = st.tuples(counts, counts, counts, counts)


def test_formula() -> None:
    assert reach(0, 0, 0, 0) == 0
    assert reach(1_000) == 1_000
    assert reach(1_000, likes=5, shares=2, replies=3) == 1_005 + 2 * AUDIENCE_PER_SHARE + 3 * AUDIENCE_PER_REPLY


def test_influence_scale() -> None:
    assert influence(0) == 0.0
    assert influence(10**12) == 1.0
    assert 0.2 < influence(100) < influence(10_000) < influence(1_000_000) < 1.0


@pytest.mark.parametrize("arguments", [(-1, 0, 0, 0), (0, -1, 0, 0), (0, 0, -1, 0), (0, 0, 0, -1)])
def test_negative_counts_are_rejected(arguments: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        reach(*arguments)
    with pytest.raises(ValueError, match="must be >= 0"):
        influence(*arguments)


@given(engagement)
def test_bounded(values: tuple[int, int, int, int]) -> None:
    assert 0 <= reach(*values) <= MAX_REACH
    assert 0.0 <= influence(*values) <= 1.0


@given(engagement, st.integers(min_value=0, max_value=3), st.integers(min_value=1, max_value=10**9))
def test_monotone_in_every_count(values: tuple[int, int, int, int], which: int, extra: int) -> None:
    more = list(values)
    more[which] += extra
    assert reach(*more) >= reach(*values)
    assert influence(*more) >= influence(*values)


@given(counts, counts)
def test_influence_is_monotone_in_reach(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert influence_of_reach(low) <= influence_of_reach(high)
