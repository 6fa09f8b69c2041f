"""The default CX sentiment scorer: hand-written rules over a bounded token stream.

A general lexicon reads "Flight delayed 3 hours, no update" as neutral because no word in it
is a sentiment word. Here customer-experience events (delays, cancellations, lost or damaged
items, time on hold, silence from the brand, money owed, outages, repeat contact) carry
valence of their own, next to ordinary sentiment words, negation, intensifiers, emoji, thanks
and a few cheap sarcasm cues.

Work per text is bounded: the text is clipped to `MAX_TEXT_CHARS`, at most `MAX_TOKENS`
tokens are read, every regular expression is a single pass without nested quantifiers, and
phrase matching is a dictionary lookup on the current token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cxpulse_scorer.domain import sentiment_lexicon as lexicon
from cxpulse_scorer.domain.sentiment_language import is_probably_english, is_supported_language_tag
from cxpulse_scorer.domain.sentiment_types import UNSUPPORTED, Sentiment, SentimentLabel

# Bump on any change to the rules or the lexicon: scores move, and calibrated models fitted on
# the old readings refuse to load until they are fitted again.
RULES_MODEL_VERSION: Final = "cx-rules-1"

MAX_TEXT_CHARS: Final = 2_000
MAX_TOKENS: Final = 300

# Above these magnitudes a score is labelled positive / negative; between them, neutral.
POSITIVE_THRESHOLD: Final = 0.25
NEGATIVE_THRESHOLD: Final = -0.25

# Same squashing as VADER: raw / sqrt(raw^2 + alpha) keeps every score inside (-1, 1).
_NORMALISATION_ALPHA: Final = 15.0

_BEFORE_CONTRAST_WEIGHT: Final = 0.5
_AFTER_CONTRAST_WEIGHT: Final = 1.5
_NEGATED_POSITIVE_FACTOR: Final = -0.75
_NEGATED_NEGATIVE_FACTOR: Final = -0.4
_QUESTION_DAMPING: Final = 0.5
_CAPS_EMPHASIS: Final = 1.3
_EXCLAMATION_EMPHASIS: Final = 0.3
_MAX_EXCLAMATIONS: Final = 3
_SARCASM_FLIP: Final = -0.5

_FAILURE_VALENCE: Final = -1.3
_MISSING_SERVICE_VALENCE: Final = -1.3
_DURATION_VALENCE: Final = -0.6
_DURATION_IN_DELAY_VALENCE: Final = -1.5
_REPEAT_VALENCE: Final = -0.7
_NEVER_AGAIN_VALENCE: Final = -2.2
_RETURN_INTENT_VALENCE: Final = 1.2
_REPEAT_CONTACT_VALENCE: Final = -1.0
_RHETORICAL_WHY_VALENCE: Final = -0.9
_EXASPERATION_VALENCE: Final = -0.5
_SARCASM_NEEDS_COMPLAINT: Final = -1.0

_URL_RE: Final = re.compile(r"(?:https?://|www\.)\S+")
_MENTION_RE: Final = re.compile(r"@\w+")
_ELONGATED_RE: Final = re.compile(r"([A-Za-z])\1{2,}")
_DOUBLED_RE: Final = re.compile(r"([a-z])\1")
_TOKEN_RE: Final = re.compile(
    r"[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?"
    r"|\d+(?:[.,:]\d+)*"
    r"|[:;=]'?-?[()\[\]dDpP/|](?![A-Za-z])|<3"
    r"|[!?]+|\.+|[,;]"
    r"|[\u2190-\u2bff\U0001f000-\U0001faff]"
)

_CLAUSE_ENDS: Final = frozenset([".", ";"])
_NOUN_NEGATORS: Final = frozenset(["no", "without", "zero", "nothing"])
_THANKS_WINDOW: Final = 5
_REPEAT_WINDOW: Final = 5

_TOKEN_WORD: Final = 0
_TOKEN_NUMBER: Final = 1
_TOKEN_PUNCT: Final = 2
_TOKEN_SYMBOL: Final = 3


SIGNAL_NAMES: Final = (
    "sentiment_positive",
    "sentiment_negative",
    "negated",
    "gratitude",
    "complaint",
    "negated_complaint",
    "fixed_positive",
    "fixed_negative",
    "duration",
    "failure",
    "missing_service",
    "rhetorical",
    "repeat",
    "never_again",
    "return_intent",
    "emoji_positive",
    "emoji_negative",
    "exclamation",
    "exasperation",
    "contrast",
    "sarcasm_cue",
    "shouting",
)
_NO_SIGNALS: Final = (0.0,) * len(SIGNAL_NAMES)


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    """What the rules saw in one text; calibration uses these as features."""

    sentiment: Sentiment
    tokens: tuple[str, ...]
    positive: float
    negative: float
    complaint: float
    question: bool
    gratitude: bool
    sarcasm: bool
    signals: tuple[float, ...]
    """Counts per name in `SIGNAL_NAMES`."""


_UNSUPPORTED_ANALYSIS: Final = TextAnalysis(UNSUPPORTED, (), 0.0, 0.0, 0.0, False, False, False, _NO_SIGNALS)
_EMPTY_ANALYSIS: Final = TextAnalysis(Sentiment("neutral", 0.0), (), 0.0, 0.0, 0.0, False, False, False, _NO_SIGNALS)


def _token_type(token: str) -> int:
    first = token[0]
    if first.isalpha():
        return _TOKEN_WORD
    if first.isdigit():
        return _TOKEN_NUMBER
    if first in "!?.,;":
        return _TOKEN_PUNCT
    return _TOKEN_SYMBOL


def _tokenise(text: str) -> tuple[list[str], list[int], list[bool]]:
    clipped = text[:MAX_TEXT_CHARS].replace("\u2019", "'")
    clipped = _MENTION_RE.sub(" ", _URL_RE.sub(" ", clipped))
    raw = _TOKEN_RE.findall(clipped)[:MAX_TOKENS]
    elongated = _ELONGATED_RE.search(clipped) is not None
    shouting_text = clipped.isupper()
    tokens: list[str] = []
    types: list[int] = []
    emphasised: list[bool] = []
    for token in raw:
        token_type = _token_type(token)
        lowered = token.lower()
        if token_type == _TOKEN_WORD:
            if elongated:
                lowered = _ELONGATED_RE.sub(r"\1\1", lowered)
                if not _is_known(lowered):
                    shortened = _DOUBLED_RE.sub(r"\1", lowered)
                    if _is_known(shortened):
                        lowered = shortened
            emphasised.append(not shouting_text and len(token) > 1 and token.isupper())
        else:
            emphasised.append(False)
        tokens.append(lowered)
        types.append(token_type)
    return tokens, types, emphasised


def _is_known(word: str) -> bool:
    return (
        word in lexicon.SENTIMENT_WORDS
        or word in lexicon.COMPLAINT_WORDS
        or word in lexicon.GRATITUDE_WORDS
        or word in lexicon.INTENSIFIERS
    )


def _question_clauses(tokens: list[str], types: list[int]) -> list[bool]:
    """Per token: does its clause end with a question mark?"""
    in_question = [False] * len(tokens)
    clause_start = 0
    for index, mark in enumerate(tokens):
        if types[index] != _TOKEN_PUNCT or mark == ",":
            continue
        if mark[0] in "!?" or mark in _CLAUSE_ENDS or mark[0] == ".":
            if "?" in mark:
                for position in range(clause_start, index):
                    in_question[position] = True
            clause_start = index + 1
    return in_question


def _carries_valence(token: str) -> bool:
    return (
        token in lexicon.SENTIMENT_WORDS
        or token in lexicon.COMPLAINT_WORDS
        or token in lexicon.GRATITUDE_WORDS
        or token in lexicon.PHRASES
        or token in lexicon.FAILURE_VERBS
    )


class _Reading:
    """One pass over the tokens of a text, collecting weighted contributions."""

    __slots__ = (
        "contrast_at",
        "contributions",
        "emphasised",
        "exasperated",
        "exclamations",
        "gratitude",
        "has_delay_context",
        "in_question",
        "multiplier",
        "negation_left",
        "negator",
        "negator_at",
        "repeats",
        "return_positions",
        "sarcasm_cue",
        "signals",
        "thanks_until",
        "tokens",
        "types",
    )

    def __init__(self, tokens: list[str], types: list[int], emphasised: list[bool]) -> None:
        self.tokens = tokens
        self.types = types
        self.emphasised = emphasised
        self.in_question = _question_clauses(tokens, types)
        self.has_delay_context = not lexicon.DELAY_CONTEXT.isdisjoint(tokens)
        # (value, token index, is a complaint, may be read as sarcasm)
        self.contributions: list[tuple[float, int, bool, bool]] = []
        self.contrast_at: int | None = None
        self.negation_left = 0
        self.negator = ""
        self.negator_at = -1
        self.multiplier = 1.0
        self.exclamations = 0
        self.exasperated = False
        self.gratitude = False
        self.sarcasm_cue = False
        self.thanks_until = -1
        self.repeats = 0
        self.return_positions: list[int] = []
        self.signals: dict[str, int] = {}

    def add(self, value: float, index: int, signal: str, *, complaint: bool = False, flippable: bool = False) -> None:
        self.contributions.append((value, index, complaint, flippable))
        self.signals[signal] = self.signals.get(signal, 0) + 1

    def _emphasis(self, index: int) -> float:
        factor = self.multiplier
        self.multiplier = 1.0
        if self.emphasised[index]:
            factor *= _CAPS_EMPHASIS
        return factor

    def _add_sentiment(self, valence: float, index: int, signal: str = "") -> None:
        value = valence * self._emphasis(index)
        if self.negation_left > 0:
            value *= _NEGATED_POSITIVE_FACTOR if value > 0 else _NEGATED_NEGATIVE_FACTOR
            self.negation_left = 0
            self.signals["negated"] = self.signals.get("negated", 0) + 1
        if self.in_question[index]:
            value *= _QUESTION_DAMPING
        if value > 0 and index <= self.thanks_until:
            # "thanks for the quick help with my lost bag" is gratitude for the help
            self.thanks_until = -1
        self.add(value, index, signal or _signed("sentiment", value), flippable=value > 0)

    def _add_gratitude(self, valence: float, index: int) -> None:
        self.gratitude = True
        self._add_sentiment(valence, index, signal="gratitude")
        self.thanks_until = index + _THANKS_WINDOW

    def _add_complaint(self, valence: float, index: int) -> None:
        value = valence * self._emphasis(index)
        signal = "complaint"
        if self.negation_left > 0 and index - self.negator_at <= lexicon.EVENT_NEGATION_SCOPE_TOKENS:
            value *= lexicon.NEGATED_COMPLAINT_IS_GOOD
            self.negation_left = 0
            signal = "negated_complaint"
        elif index <= self.thanks_until:
            self.sarcasm_cue = True
        self.add(value, index, signal, complaint=value < 0)

    def _match_phrase(self, index: int) -> int:
        tokens = self.tokens
        for words, valence, kind in lexicon.PHRASES[tokens[index]]:
            end = index + len(words)
            if end > len(tokens) or tuple(tokens[index:end]) != words:
                continue
            if kind == lexicon.KIND_FIXED:
                self.negation_left = 0
                self.multiplier = 1.0
                self.add(valence, index, _signed("fixed", valence), complaint=valence < 0)
                if words in lexicon.SARCASTIC_FIXED_PHRASES:
                    self.sarcasm_cue = True
            elif kind == lexicon.KIND_GRATITUDE:
                self._add_gratitude(valence, index + len(words) - 1)
            elif kind == lexicon.KIND_COMPLAINT:
                self._add_complaint(valence, index)
            else:
                if kind == lexicon.KIND_SARCASM_CUE:
                    self.sarcasm_cue = True
                self._add_sentiment(valence, index)
            return len(words)
        return 0

    def _read_duration(self, index: int) -> int:
        """Length of a stated duration starting at `index` ("3 hours", "an hour"), else 0."""
        tokens = self.tokens
        word = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if self.types[index] == _TOKEN_NUMBER or word in lexicon.COUNT_WORDS:
            if following in lexicon.DURATION_UNITS:
                length = 2
            elif following in lexicon.COUNT_WORDS and index + 2 < len(tokens):
                length = 3 if tokens[index + 2] in lexicon.DURATION_UNITS else 0
            else:
                length = 0
        elif word in lexicon.OPEN_ENDED_DURATIONS or (word == "all" and following in lexicon.ALL_DAY_WORDS):
            length = 1 if word != "all" else 2
        else:
            length = 0
        if length:
            previous = tokens[index - 1] if index else ""
            if previous in lexicon.NOT_A_WAIT_PREFIXES:
                return 0
            if previous not in lexicon.FAST_DURATION_PREFIXES:
                self.add(
                    _DURATION_IN_DELAY_VALENCE if self.has_delay_context else _DURATION_VALENCE,
                    index,
                    "duration",
                    complaint=True,
                )
        return length

    def read(self) -> None:
        tokens = self.tokens
        types = self.types
        count = len(tokens)
        index = 0
        while index < count:
            token = tokens[index]
            token_type = types[index]
            if token_type == _TOKEN_PUNCT:
                self.negation_left = 0
                self.multiplier = 1.0
                self.exclamations += token.count("!")
                if len(token) > 1 and "?" in token:
                    self.exasperated = True
                index += 1
                continue
            if token_type == _TOKEN_SYMBOL:
                valence = lexicon.EMOJI_VALENCE.get(token)
                if valence is not None:
                    self.add(valence, index, _signed("emoji", valence))
                index += 1
                continue
            consumed = self._read_word(index, token)
            index += consumed
        self._read_repetition()

    def _read_word(self, index: int, word: str) -> int:
        tokens = self.tokens
        if word in lexicon.CONTRAST_WORDS:
            if self.contrast_at is None:
                self.contrast_at = index
            self.negation_left = 0
            return 1
        if word in lexicon.PHRASES:
            consumed = self._match_phrase(index)
            if consumed:
                return consumed
        duration = self._read_duration(index)
        if duration:
            return duration
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if word in lexicon.ORDINAL_WORDS or self.types[index] == _TOKEN_NUMBER:
            if following in ("time", "times"):
                self.repeats += 1
                return 2
            if word == "another" and following in lexicon.COMPLAINT_WORDS:
                self.sarcasm_cue = True
                self.repeats += 1
            return 1
        if word == "again":
            self.return_positions.append(index)
            return 1
        if word in lexicon.NEGATORS:
            self.negation_left = lexicon.NEGATION_SCOPE_TOKENS
            self.negator = word
            self.negator_at = index
            complaint = lexicon.COMPLAINT_WORDS.get(word)
            if complaint is not None:
                self.add(complaint, index, "complaint", complaint=True)
            return 1
        if self.negation_left > 0 and word in lexicon.FAILURE_VERBS:
            self.negation_left = 0
            self.add(_FAILURE_VALENCE, index, "failure", complaint=True)
            return 1
        if self.negation_left > 0 and self.negator in _NOUN_NEGATORS and word in lexicon.EXPECTED_NOUNS:
            self.negation_left = 0
            self.add(_MISSING_SERVICE_VALENCE, index, "missing_service", complaint=True)
            return 1
        if word == "why" and following != "not" and self.in_question[index]:
            self.add(_RHETORICAL_WHY_VALENCE, index, "rhetorical", complaint=True)
            return 1
        intensity = lexicon.INTENSIFIERS.get(word)
        if intensity is not None and (word not in lexicon.SENTIMENT_WORDS or _carries_valence(following)):
            self.multiplier = intensity
            return 1
        gratitude = lexicon.GRATITUDE_WORDS.get(word)
        if gratitude is not None:
            self._add_gratitude(gratitude, index)
            return 1
        valence = lexicon.SENTIMENT_WORDS.get(word)
        if valence is not None:
            self._add_sentiment(valence, index)
            return 1
        valence = lexicon.COMPLAINT_WORDS.get(word)
        if valence is not None:
            self._add_complaint(valence, index)
            return 1
        if self.negation_left > 0:
            self.negation_left -= 1
        return 1

    def _read_repetition(self) -> None:
        tokens = self.tokens
        complained = any(complaint for _, _, complaint, _ in self.contributions)
        for position in self.return_positions:
            window = tokens[max(0, position - _REPEAT_WINDOW) : position]
            if not lexicon.NEGATORS.isdisjoint(window):
                self.add(_NEVER_AGAIN_VALENCE, position, "never_again", complaint=True)
            elif not lexicon.RETURN_INTENT_WORDS.isdisjoint(window):
                self.add(_RETURN_INTENT_VALENCE, position, "return_intent")
            elif complained:
                self.add(_REPEAT_VALENCE, position, "repeat", complaint=True)
        if self.repeats and (complained or not lexicon.CONTACT_VERBS.isdisjoint(tokens)):
            self.add(_REPEAT_CONTACT_VALENCE * min(self.repeats, 2), len(tokens) - 1, "repeat", complaint=True)

    def signal_counts(self) -> tuple[float, ...]:
        counts = dict(self.signals)
        counts["exclamation"] = self.exclamations
        counts["exasperation"] = int(self.exasperated)
        counts["contrast"] = int(self.contrast_at is not None)
        counts["sarcasm_cue"] = int(self.sarcasm_cue)
        counts["shouting"] = sum(self.emphasised)
        return tuple(float(counts.get(name, 0)) for name in SIGNAL_NAMES)

    def outcome(self) -> tuple[float, float, float, bool]:
        """(raw score, positive part, negative part, sarcasm detected)."""
        complaint_total = sum(value for value, _, complaint, _ in self.contributions if complaint)
        sarcasm = self.sarcasm_cue and complaint_total <= _SARCASM_NEEDS_COMPLAINT
        positive = 0.0
        negative = 0.0
        contrast_at = self.contrast_at
        for value, index, complaint, flippable in self.contributions:
            if sarcasm and flippable and value > 0:
                value *= _SARCASM_FLIP
            # What follows a contrast is what the customer means ("nice, but it doesn't work");
            # only opinions before it lose weight, since events before it still happened.
            if contrast_at is not None:
                if index >= contrast_at:
                    value *= _AFTER_CONTRAST_WEIGHT
                elif not complaint:
                    value *= _BEFORE_CONTRAST_WEIGHT
            if value > 0:
                positive += value
            else:
                negative += value
        raw = positive + negative
        if raw <= 0 and self.exasperated:
            raw += _EXASPERATION_VALENCE
        if raw:
            emphasis = _EXCLAMATION_EMPHASIS * min(self.exclamations, _MAX_EXCLAMATIONS)
            raw += emphasis if raw > 0 else -emphasis
        return raw, positive, negative, sarcasm


def _signed(family: str, value: float) -> str:
    return f"{family}_positive" if value > 0 else f"{family}_negative"


def _label_for(score: float) -> SentimentLabel:
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def analyse(text: str, language: str | None = None) -> TextAnalysis:
    """Read one text with the CX rules; `language` is the sender's tag when it has one."""
    if language and not is_supported_language_tag(language):
        return _UNSUPPORTED_ANALYSIS
    tokens, types, emphasised = _tokenise(text)
    if not language:
        words = [token for token, token_type in zip(tokens, types, strict=True) if token_type == _TOKEN_WORD]
        known = sum(1 for word in words if _is_known(word))
        if not is_probably_english(text[:MAX_TEXT_CHARS], words, known):
            return _UNSUPPORTED_ANALYSIS
    if not tokens:
        return _EMPTY_ANALYSIS
    reading = _Reading(tokens, types, emphasised)
    reading.read()
    raw, positive, negative, sarcasm = reading.outcome()
    score = max(-1.0, min(1.0, raw / math.sqrt(raw * raw + _NORMALISATION_ALPHA)))
    complaint = sum(value for value, _, is_complaint, _ in reading.contributions if is_complaint)
    return TextAnalysis(
        sentiment=Sentiment(_label_for(score), score),
        tokens=tuple(tokens),
        positive=positive,
        negative=negative,
        complaint=complaint,
        question=any(reading.in_question),
        gratitude=reading.gratitude,
        sarcasm=sarcasm,
        signals=reading.signal_counts(),
    )


class RuleScorer:
    """The default scorer: CX rules, no model file, no training data."""

    @property
    def model_version(self) -> str:
        return RULES_MODEL_VERSION

    def score(self, text: str, language: str | None = None) -> Sentiment:
        return analyse(text, language).sentiment

    def score_many(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Sentiment]:
        if languages is None:
            return [analyse(text).sentiment for text in texts]
        if len(languages) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(languages)} language tags")
        return [analyse(text, language).sentiment for text, language in zip(texts, languages, strict=True)]
