"""How many people a social mention can reach, and how influential it is on a 0..1 scale.

    reach = followers + likes + AUDIENCE_PER_SHARE * shares + AUDIENCE_PER_REPLY * replies

capped at `MAX_REACH`. The author's followers can all see the post. A share (retweet, repost)
puts it in front of the sharer's followers; nobody knows their count, so each share is credited
with a typical account's audience: most accounts have followers in the tens to low hundreds,
and `AUDIENCE_PER_SHARE` sits at the low end of that on purpose, as reach feeds money figures
and an estimate should not flatter. A reply surfaces the thread to a small part of the
replier's followers, and a like adds at most the one person who liked it. Every term only grows
with its input, so reach is monotone in each of them.

    influence = min(1, log10(1 + reach) / log10(1 + INFLUENCE_SATURATION_REACH))

A log scale because audiences span seven orders of magnitude: the step from 100 to 10,000
followers matters as much as from 10,000 to a million. Surveys are private answers: the scorer
gives them reach 0 without calling these.
"""

from __future__ import annotations

import math
from typing import Final

AUDIENCE_PER_SHARE: Final = 100
AUDIENCE_PER_REPLY: Final = 10
# More than everyone online: a cap so corrupt counts cannot overflow downstream sums.
MAX_REACH: Final = 10_000_000_000
INFLUENCE_SATURATION_REACH: Final = 10_000_000


def _checked(name: str, value: int) -> int:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def reach(followers: int, likes: int = 0, shares: int = 0, replies: int = 0) -> int:
    """Estimated audience of a mention (see the module docstring); raises ValueError on negative counts."""
    estimate = (
        _checked("followers", followers)
        + _checked("likes", likes)
        + AUDIENCE_PER_SHARE * _checked("shares", shares)
        + AUDIENCE_PER_REPLY * _checked("replies", replies)
    )
    return min(estimate, MAX_REACH)


def influence_of_reach(audience: int) -> float:
    """A reach on the 0..1 log scale."""
    scaled = math.log10(1 + _checked("reach", audience)) / math.log10(1 + INFLUENCE_SATURATION_REACH)
    return min(1.0, scaled)


def influence(followers: int, likes: int = 0, shares: int = 0, replies: int = 0) -> float:
    """Influence of a mention in 0..1, log-scaled from its reach; monotone in every count."""
    return influence_of_reach(reach(followers, likes, shares, replies))
