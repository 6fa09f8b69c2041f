"""A deterministic stream of realistic customer feedback for `make demo`, tests and benchmarks.

Each item is the JSON body a channel would POST to `/v1/surveys` or `/v1/mentions`. The stream tells
a story: three brands with their everyday mix of praise, complaints, questions and ideas, and in the
second half a brewing crisis for `CRISIS_BRAND` at `CRISIS_STAGE` (damaged guitars and luggage): its
mention volume rises several-fold with fresh authors, a viral post is shared with growing engagement,
an influencer piles on, and the stage's survey scores drop. A small share of items re-send an earlier
body or are deliberately invalid, so that de-duplication and rejection can be shown too.

Everything comes from one seeded `random.Random`, so a seed and a start time always give the same
stream; the words live in `simulate_text`.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from random import Random
from typing import Any, Literal, TypeVar

from cxpulse_cli.simulate_text import (
    AIRLINE_TEXT,
    CRISIS_COMPLAINTS,
    CRISIS_INFLUENCER_HANDLE,
    CRISIS_SURVEY_COMMENTS,
    HANDLE_FIRST_WORDS,
    HANDLE_SECOND_WORDS,
    INFLUENCER_HANDLES,
    INFLUENCER_POST,
    RETAIL_TEXT,
    SLOT_VALUES,
    SOCIAL_CLOSERS,
    SOCIAL_OPENERS,
    SUBREDDITS,
    TELECOM_TEXT,
    VIRAL_ORIGIN_HANDLE,
    VIRAL_ORIGIN_POST,
    VIRAL_SHARES,
    StageTexts,
    Tone,
)
from cxpulse_contracts.events import SCORE_RANGES

Kind = Literal["survey", "mention"]
_Mood = Literal["positive", "neutral", "negative"]
Body = dict[str, Any]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SimulatedItem:
    """One submission of the stream; `body` is the JSON body and must not be mutated by the caller."""

    kind: Kind
    body: Body
    duplicate_of_earlier: bool
    invalid: bool


def _weighted(choices: Iterable[tuple[_T, int]]) -> tuple[_T, ...]:
    """Each choice repeated by its weight, so that a uniform pick is a weighted one, in constant time."""
    return tuple(value for value, weight in choices for _ in range(weight))


def _mood_pool(positive: int, neutral: int, negative: int) -> tuple[_Mood, ...]:
    return _weighted((("positive", positive), ("neutral", neutral), ("negative", negative)))


# Percentage points of customers who move from happy to unhappy at the stages where things go wrong.
_STAGE_PAIN: Mapping[str, int] = {"airport": 5, "baggage": 15, "support": 10, "leave": 35}
# People post in public more readily when unhappy than when satisfied.
_SOCIAL_PAIN = 10
_CRISIS_MOODS = _mood_pool(5, 10, 85)


def _shifted_moods(moods: tuple[int, int, int], pain: int) -> tuple[_Mood, ...]:
    positive, neutral, negative = moods
    shifted = min(pain, positive - 5)
    return _mood_pool(positive - shifted, neutral, negative + shifted)


@dataclass(frozen=True)
class _Brand:
    slug: str
    name: str
    handle: str
    texts: StageTexts
    subreddits: tuple[str, ...]
    stages: tuple[str, ...]
    stage_pool: tuple[str, ...]
    survey_moods: Mapping[str, tuple[_Mood, ...]]
    mention_moods: Mapping[str, tuple[_Mood, ...]]


def _define_brand(
    slug: str,
    name: str,
    industry: Literal["airline", "telecom", "retail"],
    stage_weights: Mapping[str, int],
    moods: tuple[int, int, int],
) -> _Brand:
    """`moods` are the percentages of positive, neutral and negative customers at a painless stage."""
    texts = {"airline": AIRLINE_TEXT, "telecom": TELECOM_TEXT, "retail": RETAIL_TEXT}[industry]
    return _Brand(
        slug=slug,
        name=name,
        handle="@" + name.replace(" ", ""),
        texts=texts,
        subreddits=SUBREDDITS[industry],
        stages=tuple(stage_weights),
        stage_pool=_weighted(stage_weights.items()),
        survey_moods={stage: _shifted_moods(moods, _STAGE_PAIN.get(stage, 0)) for stage in stage_weights},
        mention_moods={
            stage: _shifted_moods(moods, _STAGE_PAIN.get(stage, 0) + _SOCIAL_PAIN) for stage in stage_weights
        },
    )


_BRANDS = (
    _define_brand(
        "acme-air",
        "Acme Air",
        "airline",
        {"booking": 18, "airport": 15, "flight": 25, "baggage": 14, "support": 15, "loyalty": 13},
        moods=(35, 25, 40),
    ),
    _define_brand(
        "northwind-mobile",
        "Northwind Mobile",
        "telecom",
        {"discover": 10, "purchase": 14, "onboard": 12, "use": 28, "support": 18, "renew": 10, "leave": 8},
        moods=(30, 30, 40),
    ),
    _define_brand(
        "globex-shop",
        "Globex Shop",
        "retail",
        {"discover": 12, "purchase": 20, "onboard": 16, "use": 22, "support": 15, "renew": 8, "leave": 7},
        moods=(45, 30, 25),
    ),
)
_BRAND_TRAFFIC: Mapping[str, int] = {"acme-air": 40, "northwind-mobile": 30, "globex-shop": 30}
_BRAND_POOL = _weighted((brand, _BRAND_TRAFFIC[brand.slug]) for brand in _BRANDS)
_BRANDS_BY_SLUG = {brand.slug: brand for brand in _BRANDS}

BRAND_STAGES: dict[str, tuple[str, ...]] = {brand.slug: brand.stages for brand in _BRANDS}
CRISIS_BRAND = "acme-air"
CRISIS_STAGE = "baggage"
_CRISIS = _BRANDS_BY_SLUG[CRISIS_BRAND]

_MENTION_PERCENT = 45
_NO_COMMENT_SHARE = 0.3
_METRIC_POOL = _weighted((("nps", 12), ("csat", 5), ("ces", 3)))
_SCORES: Mapping[str, Mapping[_Mood, tuple[int, ...]]] = {
    "nps": {
        "positive": (9, 9, 10, 10, 10),
        "neutral": (7, 8, 8),
        "negative": (0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 6),
    },
    "csat": {"positive": (4, 5, 5), "neutral": (3,), "negative": (1, 1, 2)},
    # CES 2.0 asks how strongly the customer agrees that the company made it easy: 7 is the best answer.
    "ces": {"positive": (6, 7, 7), "neutral": (4, 5), "negative": (1, 2, 2, 3, 3)},
}
# Happy customers mostly praise and sometimes suggest; the lukewarm ask questions or wish for something.
_TONES: Mapping[_Mood, tuple[Tone, ...]] = {
    "positive": _weighted((("praise", 4), ("idea", 1))),
    "neutral": _weighted((("neutral", 3), ("idea", 2))),
    "negative": ("complaint",),
}

_PLATFORM_POOL = _weighted((("x", 35), ("reddit", 15), ("instagram", 20), ("facebook", 15), ("tiktok", 15)))
# A story with a video spreads where videos spread.
_CRISIS_PLATFORM_POOL = _weighted((("x", 40), ("tiktok", 30), ("instagram", 15), ("reddit", 10), ("facebook", 5)))
_POST_URLS: Mapping[str, str] = {
    "x": "https://x.com/{handle}/status/{post}",
    "reddit": "https://www.reddit.com/r/{subreddit}/comments/{post}/",
    "instagram": "https://www.instagram.com/p/{post}/",
    "facebook": "https://www.facebook.com/{handle}/posts/{post}",
    "tiktok": "https://www.tiktok.com/@{handle}/video/{post}",
}
_SHORT_CODE_PLATFORMS = frozenset({"reddit", "instagram"})

# Crisis phases as (start, end, extra traffic) in fractions of the span. Extra traffic is in multiples
# of the crisis brand's usual mention rate, so the story has the same shape whatever the stream's size.
_CRISIS_PHASES = ((0.55, 0.62, 1.5), (0.62, 0.70, 4.0), (0.70, 0.82, 8.0), (0.82, 0.90, 2.5))
_CRISIS_START = _CRISIS_PHASES[0][0]
_CRISIS_END = _CRISIS_PHASES[-1][1]
_VIRAL_ORIGIN_AT = 0.57
_INFLUENCER_AT = 0.66
_CRISIS_MENTION_PERCENT = 85
_CRISIS_SHARE_CHANCE = 0.3
_CRISIS_REGULAR_AUTHOR_CHANCE = 0.15

# Duplicates are re-sent soon after the original, as a retrying channel would.
_RESEND_WINDOW = 500
_FOLLOWER_CAP = 5_000_000
# The Pareto tail alone may leave a short stream without any big account; known ones post now and then.
_INFLUENCER_CHANCE = 0.01


def crisis_window(start: datetime, span: timedelta) -> tuple[datetime, datetime]:
    """When the crisis brand's extra traffic flows in a stream that starts at `start` and lasts `span`."""
    return start + span * _CRISIS_START, start + span * _CRISIS_END


def simulate(
    *,
    seed: int = 7,
    events: int = 2000,
    start: datetime,
    span: timedelta = timedelta(hours=6),
    duplicate_rate: float = 0.02,
    invalid_rate: float = 0.005,
    crisis: bool = True,
) -> Iterator[SimulatedItem]:
    """Exactly `events` items spread over `span` from `start`, in event-time order.

    `events` counts every item, re-sends and invalid ones included; `duplicate_rate` and `invalid_rate`
    are their expected shares. Only re-sends repeat an earlier `occurred_at`. Ids depend on the seed
    and the start, so a stream started at another time is new to the collector's de-duplication.
    """
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware, since occurred_at is RFC 3339 with an offset")
    if events < 0:
        raise ValueError(f"events must not be negative, got {events}")
    if span <= timedelta(0):
        raise ValueError(f"span must be positive, got {span}")
    if not (0 <= duplicate_rate <= 1 and 0 <= invalid_rate <= 1 and duplicate_rate + invalid_rate <= 1):
        raise ValueError("duplicate_rate and invalid_rate must be shares between 0 and 1 adding up to at most 1")
    simulation = _Simulation(seed=seed, events=events, start=start, span=span, crisis=crisis)
    return simulation.run(events, duplicate_rate=duplicate_rate, invalid_rate=invalid_rate)


def batched(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Consecutive lists of `size` items (the last may be shorter), e.g. to post a stream in batches."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    iterator = iter(items)
    return iter(lambda: list(islice(iterator, size)), [])


class _Timeline:
    """Places the i-th of n items in time so that traffic has the crisis's shape.

    Baseline traffic has intensity 1 over the whole span and each crisis phase adds its own. Spreading
    the items evenly over the cumulative intensity, with jitter inside each item's slot, keeps them in
    order without sorting and leaves every other brand at its usual rate while the crisis brand spikes.
    """

    def __init__(self, *, crisis: bool) -> None:
        usual_mention_percent = _BRAND_TRAFFIC[CRISIS_BRAND] / sum(_BRAND_TRAFFIC.values()) * _MENTION_PERCENT
        scale = usual_mention_percent / _CRISIS_MENTION_PERCENT
        boundaries: list[tuple[float, float, float]] = []
        position = 0.0
        for phase_start, phase_end, multiple in _CRISIS_PHASES if crisis else ():
            boundaries.append((position, phase_start, 0.0))
            boundaries.append((phase_start, phase_end, multiple * scale))
            position = phase_end
        boundaries.append((position, 1.0, 0.0))
        # (start, end, mass where the segment ends, total intensity, share of it that is crisis traffic)
        self._segments: list[tuple[float, float, float, float, float]] = []
        mass = 0.0
        for segment_start, segment_end, extra in boundaries:
            if segment_end <= segment_start:
                continue
            intensity = 1.0 + extra
            mass += (segment_end - segment_start) * intensity
            self._segments.append((segment_start, segment_end, mass, intensity, extra / intensity))
        self._total_mass = mass
        self._current = 0

    def locate(self, share: float) -> tuple[float, float]:
        """The fraction of the span at `share` of all traffic, and the chance an item there is crisis traffic.

        Calls must come with non-decreasing `share`, which lets the lookup walk forward instead of search.
        """
        mass = share * self._total_mass
        while mass > self._segments[self._current][2] and self._current < len(self._segments) - 1:
            self._current += 1
        segment_start, segment_end, mass_at_end, intensity, crisis_share = self._segments[self._current]
        fraction = segment_end - (mass_at_end - mass) / intensity
        return max(segment_start, min(fraction, segment_end)), crisis_share


class _Random(Random):
    def pick(self, pool: Sequence[_T]) -> _T:
        """Like `choice`, several times faster, which matters at one pick per field of every item."""
        return pool[int(self.random() * len(pool))]


class _Slots(dict[str, str]):
    """Template values picked on first use, so a slot used twice in one text says the same thing twice."""

    def __init__(self, rng: _Random, known: Mapping[str, str]) -> None:
        super().__init__(known)
        self._rng = rng

    def __missing__(self, slot: str) -> str:
        value = self._rng.pick(SLOT_VALUES[slot])
        self[slot] = value
        return value


def _crisis_progress(fraction: float) -> float:
    return min(1.0, max(0.0, (fraction - _CRISIS_START) / (_CRISIS_END - _CRISIS_START)))


class _Simulation:
    def __init__(self, *, seed: int, events: int, start: datetime, span: timedelta, crisis: bool) -> None:
        self._rng = _Random(seed)
        self._start = start
        self._span = span
        self._crisis = crisis
        self._timeline = _Timeline(crisis=crisis)
        run = hashlib.sha256(f"{seed}|{start.isoformat()}".encode()).digest()
        # Snowflake-sized numbers: a run-specific prefix and a counter, so ids never repeat by accident.
        self._next_number = 10**18 + int.from_bytes(run[:8], "big") % 10**9 * 10**9
        self._handle_offset = int.from_bytes(run[8:12], "big") % 10_000
        self._regular_authors = max(100, events // 3)
        self._fresh_authors = 0
        self._followers: dict[str, int] = {}
        self._customers = max(100, events // 4)
        self._specials: deque[tuple[float, Callable[[float, str], Body]]] = deque()
        if crisis:
            self._specials.extend(((_VIRAL_ORIGIN_AT, self._viral_origin), (_INFLUENCER_AT, self._influencer)))
        self._viral_url = ""
        self._viral_fraction = _VIRAL_ORIGIN_AT

    def run(self, events: int, *, duplicate_rate: float, invalid_rate: float) -> Iterator[SimulatedItem]:
        rng = self._rng
        recent: deque[tuple[Kind, Body]] = deque(maxlen=_RESEND_WINDOW)
        for slot in range(events):
            fraction, crisis_share = self._timeline.locate((slot + rng.random()) / events)
            draw = rng.random()
            if draw < duplicate_rate:
                if recent:
                    kind, body = rng.pick(recent)
                    yield SimulatedItem(kind, _copy_body(body), duplicate_of_earlier=True, invalid=False)
                    continue
            elif draw < duplicate_rate + invalid_rate:
                kind, body = self._fresh(fraction, crisis_share, allow_special=False)
                rng.pick(_CORRUPTIONS[kind])(body)
                yield SimulatedItem(kind, body, duplicate_of_earlier=False, invalid=True)
                continue
            kind, body = self._fresh(fraction, crisis_share, allow_special=True)
            recent.append((kind, body))
            yield SimulatedItem(kind, body, duplicate_of_earlier=False, invalid=False)

    def _fresh(self, fraction: float, crisis_share: float, *, allow_special: bool) -> tuple[Kind, Body]:
        rng = self._rng
        occurred_at = (self._start + self._span * fraction).isoformat(timespec="milliseconds")
        if crisis_share and rng.random() < crisis_share:
            if allow_special and self._specials and fraction >= self._specials[0][0]:
                return "mention", self._specials.popleft()[1](fraction, occurred_at)
            if rng.random() * 100 >= _CRISIS_MENTION_PERCENT:
                return "survey", self._survey(_CRISIS, fraction, occurred_at, stage=CRISIS_STAGE)
            return "mention", self._crisis_mention(fraction, occurred_at)
        brand = rng.pick(_BRAND_POOL)
        if rng.random() * 100 < _MENTION_PERCENT:
            return "mention", self._mention(brand, occurred_at)
        return "survey", self._survey(brand, fraction, occurred_at, stage=rng.pick(brand.stage_pool))

    def _survey(self, brand: _Brand, fraction: float, occurred_at: str, *, stage: str) -> Body:
        rng = self._rng
        hit_by_crisis = (
            self._crisis and brand is _CRISIS and stage == CRISIS_STAGE and _CRISIS_START <= fraction < _CRISIS_END
        )
        mood = rng.pick(_CRISIS_MOODS if hit_by_crisis else brand.survey_moods[stage])
        metric = rng.pick(_METRIC_POOL)
        comment = None
        if rng.random() >= _NO_COMMENT_SHARE:
            if hit_by_crisis and mood == "negative":
                templates = _CRISIS_SURVEY_TEMPLATES
            else:
                templates = brand.texts[stage][rng.pick(_TONES[mood])]
            comment = self._fill(rng.pick(templates), brand)
        return {
            "response_id": f"R_{self._number():x}",
            "brand": brand.slug,
            "metric": metric,
            "score": rng.pick(_SCORES[metric][mood]),
            "comment": comment,
            "journey_stage": stage,
            "customer_id": f"cust-{int(rng.random() * self._customers):06d}",
            "language": "en",
            "occurred_at": occurred_at,
        }

    def _mention(self, brand: _Brand, occurred_at: str) -> Body:
        rng = self._rng
        stage = rng.pick(brand.stage_pool)
        tone = rng.pick(_TONES[rng.pick(brand.mention_moods[stage])])
        text = self._social_text(rng.pick(brand.texts[stage][tone]), tone, brand)
        handle, followers = self._regular_author()
        return self._mention_body(
            brand,
            rng.pick(_PLATFORM_POOL),
            handle,
            followers,
            text,
            occurred_at,
            self._engagement(followers),
        )

    def _crisis_mention(self, fraction: float, occurred_at: str) -> Body:
        """A complaint about the crisis, or a share of the viral post that draws more attention over time."""
        rng = self._rng
        if rng.random() < _CRISIS_REGULAR_AUTHOR_CHANCE:
            handle, followers = self._regular_author()
        else:
            handle, followers = self._fresh_author()
        if self._viral_url and rng.random() < _CRISIS_SHARE_CHANCE:
            time_since_origin = (fraction - self._viral_fraction) / (_CRISIS_END - self._viral_fraction)
            # A share rides on the viral post's attention, which compounds whatever the sharer's following.
            attention = 20.0 * 200.0 ** min(1.0, max(0.0, time_since_origin))
            text = self._fill(rng.pick(VIRAL_SHARES), _CRISIS, url=self._viral_url)
        else:
            attention = 4.0 + 100.0 * _crisis_progress(fraction)
            text = self._social_text(rng.pick(CRISIS_COMPLAINTS), "complaint", _CRISIS)
        return self._mention_body(
            _CRISIS,
            rng.pick(_CRISIS_PLATFORM_POOL),
            handle,
            followers,
            text,
            occurred_at,
            self._engagement(followers, boost=1.0 + 4.0 * _crisis_progress(fraction), attention=attention),
        )

    def _viral_origin(self, fraction: float, occurred_at: str) -> Body:
        """The post that starts it: a musician with a small following whose video takes off."""
        followers = self._rng.randint(400, 1_500)
        body = self._mention_body(
            _CRISIS,
            "x",
            VIRAL_ORIGIN_HANDLE,
            followers,
            self._fill(VIRAL_ORIGIN_POST, _CRISIS),
            occurred_at,
            self._engagement(followers, boost=20.0, attention=200.0, luck=0.6),
        )
        self._viral_url = body["url"]
        self._viral_fraction = fraction
        return body

    def _influencer(self, fraction: float, occurred_at: str) -> Body:
        """The complaint with the largest reach of the stream, from an account far above 100,000 followers.

        Specials are produced in order, so the viral post it points at already exists.
        """
        followers = self._rng.randint(250_000, 1_500_000)
        return self._mention_body(
            _CRISIS,
            "instagram",
            CRISIS_INFLUENCER_HANDLE,
            followers,
            self._fill(INFLUENCER_POST, _CRISIS, url=self._viral_url),
            occurred_at,
            self._engagement(followers, boost=3.0 + 5.0 * _crisis_progress(fraction), luck=0.6),
        )

    def _mention_body(
        self,
        brand: _Brand,
        platform: str,
        handle: str,
        followers: int,
        text: str,
        occurred_at: str,
        engagement: dict[str, int],
    ) -> Body:
        number = self._number()
        post = f"{number % 16**10:x}" if platform in _SHORT_CODE_PLATFORMS else str(number)
        subreddit = self._rng.pick(brand.subreddits)
        return {
            "mention_id": post,
            "brand": brand.slug,
            "platform": platform,
            "author": {"handle": handle, "followers": followers},
            "text": text,
            "url": _POST_URLS[platform].format(handle=handle, post=post, subreddit=subreddit),
            "engagement": engagement,
            "language": "en",
            "occurred_at": occurred_at,
        }

    def _social_text(self, template: str, tone: Tone, brand: _Brand) -> str:
        rng = self._rng
        opener = "" if "{handle}" in template else rng.pick(SOCIAL_OPENERS)
        return self._fill(opener + template + rng.pick(SOCIAL_CLOSERS[tone]), brand)

    def _fill(self, template: str, brand: _Brand, *, url: str = "") -> str:
        text = template.format_map(_Slots(self._rng, {"brand": brand.name, "handle": brand.handle, "url": url}))
        return text[:1].upper() + text[1:] if template.startswith("{") else text

    def _number(self) -> int:
        self._next_number += 1
        return self._next_number

    def _regular_author(self) -> tuple[str, int]:
        rng = self._rng
        if rng.random() < _INFLUENCER_CHANCE:
            handle = rng.pick(INFLUENCER_HANDLES)
            if handle not in self._followers:
                self._followers[handle] = rng.randint(120_000, 2_500_000)
            return handle, self._followers[handle]
        # Squaring skews the pick toward low indices: a few regulars post often, most people rarely.
        return self._author(int(self._regular_authors * rng.random() ** 2))

    def _fresh_author(self) -> tuple[str, int]:
        self._fresh_authors += 1
        return self._author(self._regular_authors + self._fresh_authors)

    def _author(self, index: int) -> tuple[str, int]:
        """The same index is always the same person, with a handle no other index gets."""
        number = index + self._handle_offset
        first = HANDLE_FIRST_WORDS[number % len(HANDLE_FIRST_WORDS)]
        number //= len(HANDLE_FIRST_WORDS)
        second = HANDLE_SECOND_WORDS[number % len(HANDLE_SECOND_WORDS)]
        number //= len(HANDLE_SECOND_WORDS)
        handle = f"{first}_{second}{number or ''}"
        followers = self._followers.get(handle)
        if followers is None:
            # Pareto with a shape well below 1: most accounts have a few hundred followers, some millions.
            followers = min(_FOLLOWER_CAP, int(25 * (self._rng.paretovariate(0.7) - 1)))
            self._followers[handle] = followers
        return handle, followers

    def _engagement(
        self, followers: int, boost: float = 1.0, attention: float = 4.0, luck: float = 0.0
    ) -> dict[str, int]:
        """`boost` scales what the author's own audience gives; `attention` comes from beyond it.

        Most posts get a random part of what they could get; `luck` is the part a story the crowd has
        already noticed is sure to get.
        """
        rng = self._rng
        likes = int((followers * 0.03 * boost + attention) * (luck + (1.0 - luck) * rng.random()))
        return {
            "likes": likes,
            "shares": int(likes * 0.2 * rng.random()),
            "replies": int(likes * 0.1 * rng.random() + 2 * rng.random()),
        }


_CRISIS_SURVEY_TEMPLATES = CRISIS_SURVEY_COMMENTS + AIRLINE_TEXT[CRISIS_STAGE]["complaint"]


def _copy_body(body: Body) -> Body:
    return {key: dict(value) if isinstance(value, dict) else value for key, value in body.items()}


def _score_out_of_range(body: Body) -> None:
    body["score"] = SCORE_RANGES[body["metric"]][1] + 1


def _misspelt_score(body: Body) -> None:
    body["scroe"] = body.pop("score")


def _timestamp_without_offset(body: Body) -> None:
    local = datetime.fromisoformat(body["occurred_at"]).replace(tzinfo=None)
    body["occurred_at"] = local.isoformat(timespec="milliseconds")


def _display_name_as_brand(body: Body) -> None:
    body["brand"] = _BRANDS_BY_SLUG[body["brand"]].name


def _blank_text(body: Body) -> None:
    body["text"] = "   "


def _url_without_scheme(body: Body) -> None:
    body["url"] = body["url"].split("://", 1)[1]


def _negative_followers(body: Body) -> None:
    body["author"]["followers"] = -1


# Mistakes a real channel makes; an NPS of 11 is the classic, so it is the likeliest.
_CORRUPTIONS: Mapping[Kind, tuple[Callable[[Body], None], ...]] = {
    "survey": (
        _score_out_of_range,
        _score_out_of_range,
        _misspelt_score,
        _timestamp_without_offset,
        _display_name_as_brand,
    ),
    "mention": (
        _blank_text,
        _url_without_scheme,
        _negative_followers,
        _timestamp_without_offset,
        _display_name_as_brand,
    ),
}
