"""Topics a piece of feedback touches, and terms whose share of a brand's mentions is rising.

`TopicTagger` tags configured topics (`config/topics.yaml`: slug -> phrases, matched by the
shared `phrases` matcher). Among them `idea`: customers proposing a feature or an improvement,
a signal for the product team whatever the sentiment.

`EmergingTerms` finds what nobody configured yet: words and word pairs whose share of a
brand's recent texts is well above their share in the brand's baseline. Memory is bounded per
brand: recent texts are counted in a few time buckets, older buckets are folded into one
exponentially decayed baseline, and every count table is pruned to its heaviest terms. Pruning
only ever makes a term look less emerging (recent counts can only drop, and the baseline of a
pruned term is taken at the largest count pruned), so a bounded tracker misses rare bursts
rather than invents them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cxpulse_scorer.domain.phrases import (
    PhraseConfigError,
    PhraseMatcher,
    check_phrases,
    read_examples,
    read_yaml_document,
    require_mapping,
    tokenize,
)

IDEA_TOPIC: Final = "idea"

_TOPICS_KEYS: Final = frozenset({"topics"})
_TOPIC_KEYS: Final = frozenset({"description", "phrases", "examples"})


class TopicConfigError(PhraseConfigError):
    """A topics file that cannot be used; the message names the file and the topic."""


class TopicTagger:
    """Tags texts with the configured topics they mention, in the configuration's order."""

    def __init__(
        self, phrases: Mapping[str, Sequence[str]], examples: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        if not phrases:
            raise ValueError("a topic tagger needs at least one topic")
        self.topics: tuple[str, ...] = tuple(phrases)
        self.examples: dict[str, tuple[str, ...]] = {
            topic: tuple((examples or {}).get(topic, ())) for topic in self.topics
        }
        self._order = {topic: position for position, topic in enumerate(self.topics)}
        self._matcher = PhraseMatcher(
            (phrase, topic, 1.0) for topic, topic_phrases in phrases.items() for phrase in topic_phrases
        )

    def tag_tokens(self, tokens: Sequence[str]) -> list[str]:
        """`tag` on text already tokenised by `phrases.tokenize`, to share one tokenisation."""
        found = {topic for match in self._matcher.find(tokens) for topic in match.weights}
        return sorted(found, key=self._order.__getitem__)

    def tag(self, text: str) -> list[str]:
        return self.tag_tokens(tokenize(text))

    def tag_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tag_tokens(tokenize(text)) for text in texts]


def parse_topics(document: object, source: str) -> TopicTagger:
    """Validate a parsed topics document; `source` names it in error messages."""
    topics = require_mapping(source, document, _TOPICS_KEYS, TopicConfigError).get("topics")
    if not isinstance(topics, dict) or not topics:
        raise TopicConfigError(f"{source}: 'topics' must be a non-empty mapping of topic to phrases")
    phrases: dict[str, tuple[str, ...]] = {}
    examples: dict[str, tuple[str, ...]] = {}
    for topic, body in topics.items():
        where = f"{source}: topic {topic!r}"
        if not isinstance(topic, str) or not topic:
            raise TopicConfigError(f"{where}: a topic must be named by a non-empty slug")
        entry = require_mapping(where, body, _TOPIC_KEYS, TopicConfigError)
        topic_phrases = entry.get("phrases")
        if (
            not isinstance(topic_phrases, list)
            or not topic_phrases
            or not all(isinstance(phrase, str) for phrase in topic_phrases)
        ):
            raise TopicConfigError(f"{where}: 'phrases' must be a non-empty list of phrases")
        check_phrases(where, topic_phrases, TopicConfigError)
        phrases[topic] = tuple(topic_phrases)
        examples[topic] = read_examples(where, entry.get("examples"), TopicConfigError)
    return TopicTagger(phrases, examples)


def load_topic_tagger(path: Path) -> TopicTagger:
    """Read and validate a topics file; raises TopicConfigError naming the file and the topic."""
    return parse_topics(read_yaml_document(path, TopicConfigError), str(path))


# Function words and social-media noise: they rise and fall with volume, not with news.
_STOP_WORD_LIST: Final = """
    a about above after again against all also am an and any are arent as at be because been before being
    below between both but by can cant could couldnt did didnt do does doesnt doing dont down during each
    even ever every few for from further get gets getting got had hadnt has hasnt have havent having he hed
    her here hers herself him himself his how i id ill im is isnt it its itself ive just let lets like me
    more most much must my myself no nor not now of off on once only or other our ours ourselves out over
    own really same say says shall she should shouldnt so some still such than that thats the their theirs
    them themselves then there theres these they theyre this those through to too under until up upon us
    very via was wasnt we were werent weve what whats when where which while who whom why will with wont
    would wouldnt yet you youd youll your youre yours yourself yourselves ve ll re st nd rd th
    rt amp http https www com co lol omg pls plz please thanks thank today yesterday tomorrow one two
"""
STOP_WORDS: Final = frozenset(_STOP_WORD_LIST.split())
MAX_TERM_TOKENS: Final = 120


def extract_terms(text: str) -> frozenset[str]:
    """Distinct words and adjacent word pairs of a text, stop words and numbers left out."""
    words = [
        token
        for token in tokenize(text)[:MAX_TERM_TOKENS]
        if len(token) > 1 and not token.isdigit() and token not in STOP_WORDS
    ]
    pairs = (f"{first} {second}" for first, second in itertools.pairwise(words))
    return frozenset(words).union(pairs)


@dataclass(frozen=True, slots=True)
class EmergingTerm:
    term: str
    recent_count: int
    baseline_share: float
    recent_share: float
    lift: float


@dataclass(slots=True)
class _Counts:
    """Texts per term; `floor` bounds the count of any term pruned away."""

    terms: dict[str, float] = field(default_factory=dict)
    documents: float = 0.0
    floor: float = 0.0

    def add(self, terms: Iterable[str], weight: float = 1.0) -> None:
        self.documents += weight
        for term in terms:
            self.terms[term] = self.terms.get(term, 0.0) + weight

    def add_scaled(self, other: _Counts, factor: float) -> None:
        self.documents += other.documents * factor
        # Floors add up: a term pruned from both tables may have been just under both floors.
        self.floor += other.floor * factor
        for term, count in other.terms.items():
            self.terms[term] = self.terms.get(term, 0.0) + count * factor

    def scale(self, factor: float) -> None:
        self.documents *= factor
        self.floor *= factor
        for term in self.terms:
            self.terms[term] *= factor

    def prune(self, capacity: int) -> None:
        """Keep the `capacity` heaviest terms once the table holds twice that (amortised O(1))."""
        if len(self.terms) <= 2 * capacity:
            return
        ranked = sorted(self.terms.items(), key=lambda item: (-item[1], item[0]))
        self.floor = max(self.floor, ranked[capacity][1])
        self.terms = dict(ranked[:capacity])


@dataclass(slots=True)
class _BrandWindow:
    recent: dict[int, _Counts] = field(default_factory=dict)
    newest_bucket: int | None = None
    baseline: _Counts = field(default_factory=_Counts)
    baseline_bucket: int | None = None


def _epoch_seconds(moment: datetime | float) -> float:
    if isinstance(moment, datetime):
        # Naive datetimes are read as UTC, the zone every cxpulse event time is stored in.
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


class EmergingTerms:
    """Online tracker of terms whose share of a brand's recent texts rises above their baseline share.

    Time is cut into buckets of `bucket_seconds`; the recent window is the last `recent_buckets`
    buckets up to the query time; everything older forms the baseline, decayed with a half-life
    of `baseline_half_life_buckets`. Each count table keeps at most `2 * capacity` terms, so a
    brand holds at most `max_terms_per_brand` of them whatever it is sent. Results depend only on
    the observations and the query, not on the order of equal counts or on hash seeds.
    """

    def __init__(
        self,
        *,
        bucket_seconds: float = 3_600.0,
        recent_buckets: int = 6,
        baseline_half_life_buckets: float = 168.0,
        capacity: int = 2_000,
    ) -> None:
        if bucket_seconds <= 0 or recent_buckets < 1 or baseline_half_life_buckets <= 0 or capacity < 1:
            raise ValueError("bucket_seconds, recent_buckets, baseline_half_life_buckets and capacity must be > 0")
        self.bucket_seconds = bucket_seconds
        self.recent_buckets = recent_buckets
        self.capacity = capacity
        self._decay_per_bucket = 0.5 ** (1.0 / baseline_half_life_buckets)
        self._windows: dict[str, _BrandWindow] = {}

    @property
    def max_terms_per_brand(self) -> int:
        return (self.recent_buckets + 1) * 2 * self.capacity

    def tracked_terms(self, brand: str) -> int:
        """How many term counts are held for a brand (memory in use, for monitoring and tests)."""
        window = self._windows.get(brand)
        if window is None:
            return 0
        return len(window.baseline.terms) + sum(len(counts.terms) for counts in window.recent.values())

    def _bucket(self, moment: datetime | float) -> int:
        return math.floor(_epoch_seconds(moment) / self.bucket_seconds)

    def _weight(self, bucket: int, reference: int) -> float:
        """Decay of a bucket's counts as seen from `reference` (above 1 for a later bucket)."""
        return float(self._decay_per_bucket ** (reference - bucket))

    def _fold_into_baseline(self, window: _BrandWindow, bucket: int, counts: _Counts) -> None:
        reference = window.baseline_bucket
        if reference is None or bucket > reference:
            if reference is not None:
                window.baseline.scale(self._weight(reference, bucket))
            window.baseline_bucket = reference = bucket
        window.baseline.add_scaled(counts, self._weight(bucket, reference))
        window.baseline.prune(self.capacity)

    def observe_terms(self, brand: str, timestamp: datetime | float, terms: Iterable[str]) -> None:
        """`observe` with terms already extracted by `extract_terms`."""
        bucket = self._bucket(timestamp)
        window = self._windows.setdefault(brand, _BrandWindow())
        if window.newest_bucket is None or bucket > window.newest_bucket:
            window.newest_bucket = bucket
            for old in sorted(index for index in window.recent if index <= bucket - self.recent_buckets):
                self._fold_into_baseline(window, old, window.recent.pop(old))
        if bucket <= window.newest_bucket - self.recent_buckets:
            late = _Counts()
            late.add(terms)
            self._fold_into_baseline(window, bucket, late)
            return
        counts = window.recent.setdefault(bucket, _Counts())
        counts.add(terms)
        counts.prune(self.capacity)

    def observe(self, brand: str, timestamp: datetime | float, text: str) -> None:
        """Count one text of a brand at its event time (naive datetimes and epoch seconds are UTC)."""
        self.observe_terms(brand, timestamp, extract_terms(text))

    def emerging(
        self,
        brand: str,
        now: datetime | float,
        min_count: int = 5,
        min_lift: float = 3.0,
        limit: int | None = 20,
    ) -> list[EmergingTerm]:
        """Terms in at least `min_count` recent texts whose share rose at least `min_lift`-fold.

        Lift compares the recent share with the baseline share smoothed by one pseudo-text, so a
        brand without a baseline yet reports nothing, and a term never seen before needs real
        volume to stand out. A word is left out when a reported pair containing it accounts for
        most of its rise.
        """
        window = self._windows.get(brand)
        if window is None:
            return []
        now_bucket = self._bucket(now)
        first_recent = now_bucket - self.recent_buckets + 1
        recent = _Counts()
        baseline = _Counts()
        reference = first_recent - 1
        if window.baseline_bucket is not None:
            baseline.add_scaled(window.baseline, self._weight(window.baseline_bucket, reference))
        for bucket in sorted(window.recent):
            if first_recent <= bucket <= now_bucket:
                recent.add_scaled(window.recent[bucket], 1.0)
            elif bucket < first_recent:
                baseline.add_scaled(window.recent[bucket], self._weight(bucket, reference))
        if recent.documents == 0:
            return []
        found: list[EmergingTerm] = []
        for term, count in recent.terms.items():
            if count < min_count:
                continue
            baseline_count = baseline.terms.get(term, 0.0)
            recent_share = count / recent.documents
            smoothed_baseline_share = (baseline_count + baseline.floor + 1.0) / (baseline.documents + 1.0)
            lift = recent_share / smoothed_baseline_share
            if lift >= min_lift:
                baseline_share = baseline_count / baseline.documents if baseline.documents else 0.0
                found.append(EmergingTerm(term, round(count), baseline_share, recent_share, lift))
        found = _without_words_explained_by_pairs(found)
        found.sort(key=lambda item: (-item.lift, -item.recent_count, item.term))
        return found if limit is None else found[:limit]


# A word is explained by a reported pair when the pair occurs in at least this share of its texts.
_EXPLAINED_SHARE: Final = 0.8


def _without_words_explained_by_pairs(terms: list[EmergingTerm]) -> list[EmergingTerm]:
    pair_counts: dict[str, int] = {}
    for candidate in terms:
        if " " in candidate.term:
            for word in candidate.term.split(" "):
                pair_counts[word] = max(pair_counts.get(word, 0), candidate.recent_count)
    return [
        candidate
        for candidate in terms
        if " " in candidate.term or pair_counts.get(candidate.term, 0) < _EXPLAINED_SHARE * candidate.recent_count
    ]
