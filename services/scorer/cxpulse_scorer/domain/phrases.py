"""Phrase matching shared by journey-stage inference and topic tagging.

A phrase is written as words separated by spaces, read with the same tokeniser as the text, so
"check-in" and "Check in" are the same phrase. Beyond plain words a phrase may use:

- `word*`: any token starting with `word` ("cancel*" matches cancel, cancelled, cancellation);
- `<num>`: a number, in digits or words ("3", "three", "a", "several");
- `<unit>`: a unit of waiting time ("hours", "hrs", "mins", "days");
- `...`: a gap of up to `MAX_GAP_TOKENS` tokens ("why cant i ... in the app").

A matcher built with `fold_inflections` reads plain words, in phrases and text alike, through
`fold_inflection`, so "delayed flights" matches the phrase "delay flight" and "agents" the
phrase "agent"; `word*` and the classes still look at the word as written.

Work per text is bounded and linear in its length: the text is clipped to `MAX_TEXT_CHARS`,
at most `MAX_TOKENS` tokens are read, the regular expressions are single passes without nested
quantifiers, and matching walks a trie of phrases from each token, never deeper than the
longest phrase allows. Matches are leftmost-longest and do not overlap, so a longer phrase
("gate agent") overrides the shorter ones inside it ("agent"); only the words a gap skipped are
read again on their own, so "why cant i change my meal in the app" is both an idea and a meal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml

MAX_TEXT_CHARS: Final = 5_000
MAX_TOKENS: Final = 800
MAX_GAP_TOKENS: Final = 6
# Distinct words whose "does a phrase start here" answer (or folded form) is remembered;
# beyond it, recomputed.
_STARTS_CACHE_SIZE: Final = 50_000
# Shorter words are function words or abbreviations whose endings are not inflections.
_MIN_FOLDED_LENGTH: Final = 4
# A stem left by stripping -ed / -ing keeps at least this many letters ("need", "thing" stay).
_MIN_STEM_LENGTH: Final = 3
_VOWELS: Final = frozenset("aeiouy")
_SIBILANT_PLURALS: Final = ("sses", "shes", "ches", "xes", "zes")
_NOT_PLURAL_ENDINGS: Final = ("ss", "us", "is")

GAP: Final = "..."
NUMBER_CLASS: Final = "<num>"
UNIT_CLASS: Final = "<unit>"

NUMBER_WORDS: Final = frozenset(
    {
        "a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "ninety",
        "hundred", "few", "several", "multiple", "many", "couple", "countless", "numerous",
    }
)  # fmt: skip
WAITING_TIME_UNITS: Final = frozenset(
    {"sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour",
     "hours", "day", "days", "week", "weeks", "month", "months"}
)  # fmt: skip

_HANDLE_OR_URL_RE: Final = re.compile(r"https?://\S+|www\.\S+|@\w+")
_TOKEN_RE: Final = re.compile(r"\d+|[^\W\d_]+")


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-case word and number tokens; handles, URLs and apostrophes ("can't" -> "cant") dropped."""
    # Chained replace beats str.translate several times over on tweet-sized texts.
    clipped = text[:MAX_TEXT_CHARS].lower().replace("'", "").replace("\u2019", "").replace("\u2018", "")
    without_handles = _HANDLE_OR_URL_RE.sub(" ", clipped)
    return tuple(_TOKEN_RE.findall(without_handles)[:MAX_TOKENS])


def _strip_verb_ending(word: str, ending: str) -> str | None:
    stem = word[: -len(ending)]
    if len(stem) >= _MIN_STEM_LENGTH and any(letter in _VOWELS for letter in stem):
        return stem
    return None


def fold_inflection(word: str) -> str:
    """A light English stem: plural -s/-es/-ies, past -ed/-ied and -ing removed, a final silent
    "e" dropped and a doubled final letter undoubled, so delay / delays / delayed / delaying,
    arrive / arrived / arriving and cancel / cancelled all fold to one form.

    Deliberately cruder than Porter's stemmer, which also strips derivational suffixes
    ("connection" -> "connect"), and those change which journey stage a word points to.
    Words shorter than four letters and anything that is not all letters are left alone.
    """
    if len(word) < _MIN_FOLDED_LENGTH or not word.isalpha():
        return word
    stem = word
    if word.endswith(("ies", "ied")) and len(word) > _MIN_FOLDED_LENGTH:
        stem = word[:-3] + "y"
    elif word.endswith("ing"):
        stem = _strip_verb_ending(word, "ing") or word
    elif word.endswith("ed"):
        stem = _strip_verb_ending(word, "ed") or word
    elif word.endswith(_SIBILANT_PLURALS):
        stem = word[:-2]
    elif word.endswith("s") and not word.endswith(_NOT_PLURAL_ENDINGS):
        stem = word[:-1]
    if len(stem) > _MIN_STEM_LENGTH and stem.endswith("e") and stem[-2] not in _VOWELS:
        stem = stem[:-1]
    if len(stem) > _MIN_STEM_LENGTH and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
        stem = stem[:-1]
    return stem


def _token_classes(token: str) -> tuple[str, ...]:
    if token.isdigit() or token in NUMBER_WORDS:
        return (NUMBER_CLASS,)
    if token in WAITING_TIME_UNITS:
        return (UNIT_CLASS,)
    return ()


class PhraseSyntaxError(ValueError):
    """A phrase that cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class _Element:
    kind: Literal["word", "prefix", "class", "gap"]
    value: str


def parse_phrase(phrase: str) -> tuple[_Element, ...]:
    """Split a phrase into the elements the trie is built from; raises PhraseSyntaxError."""
    elements: list[_Element] = []
    for piece in phrase.split():
        if piece == GAP:
            if not elements or elements[-1].kind == "gap":
                raise PhraseSyntaxError(f"phrase {phrase!r}: a gap '...' must follow a word")
            elements.append(_Element("gap", GAP))
        elif piece in (NUMBER_CLASS, UNIT_CLASS):
            elements.append(_Element("class", piece))
        elif piece.endswith("*"):
            stem = tokenize(piece[:-1])
            if len(stem) != 1 or "*" in piece[:-1]:
                raise PhraseSyntaxError(f"phrase {phrase!r}: {piece!r} must be one word followed by '*'")
            elements.append(_Element("prefix", stem[0]))
        else:
            words = tokenize(piece)
            if "*" in piece:
                raise PhraseSyntaxError(f"phrase {phrase!r}: '*' may only end a word, as in 'cancel*'")
            if not words:
                raise PhraseSyntaxError(f"phrase {phrase!r}: {piece!r} has no letters or digits")
            elements.extend(_Element("word", word) for word in words)
    if not elements:
        raise PhraseSyntaxError(f"phrase {phrase!r} is empty")
    if elements[-1].kind == "gap":
        raise PhraseSyntaxError(f"phrase {phrase!r}: a gap '...' must be followed by a word")
    return tuple(elements)


class _Node:
    __slots__ = ("classes", "gap", "outputs", "prefix_lengths", "prefixes", "words")

    def __init__(self) -> None:
        self.words: dict[str, _Node] = {}
        self.prefixes: dict[str, _Node] = {}
        self.prefix_lengths: tuple[int, ...] = ()
        self.classes: dict[str, _Node] = {}
        self.gap: _Node | None = None
        self.outputs: dict[str, float] = {}

    def child(self, element: _Element) -> _Node:
        if element.kind == "gap":
            if self.gap is None:
                self.gap = _Node()
            return self.gap
        table = {"word": self.words, "prefix": self.prefixes, "class": self.classes}[element.kind]
        if element.value not in table:
            table[element.value] = _Node()
            if element.kind == "prefix":
                self.prefix_lengths = tuple(sorted({len(stem) for stem in self.prefixes}))
        return table[element.value]


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """Tokens `start`..`end` (exclusive) matched a phrase carrying these label weights."""

    start: int
    end: int
    weights: dict[str, float]


@dataclass(slots=True)
class LabelEvidence:
    """What the phrases of one label found in a text: their total weight, the weight of the
    strongest single phrase and the length in tokens of the longest."""

    total: float = 0.0
    strongest: float = 0.0
    longest: int = 0

    def add(self, weight: float, length: int) -> None:
        self.total += weight
        self.strongest = max(self.strongest, weight)
        self.longest = max(self.longest, length)


class PhraseMatcher:
    """Finds configured phrases in token streams; each phrase carries a weight per label."""

    def __init__(self, entries: Iterable[tuple[str, str, float]], *, fold_inflections: bool = False) -> None:
        """`entries` are (phrase, label, weight); a phrase listed under two labels counts for both.

        With `fold_inflections`, two phrases of one label that fold to the same words ("delay",
        "delays") are one phrase carrying the larger weight, not the sum.
        """
        self._root = _Node()
        self._starts: dict[str, bool] = {}
        self._folds: dict[str, str] | None = {} if fold_inflections else None
        for phrase, label, weight in entries:
            node = self._root
            for element in parse_phrase(phrase):
                if fold_inflections and element.kind == "word":
                    element = _Element("word", fold_inflection(element.value))
                node = node.child(element)
            node.outputs[label] = max(node.outputs.get(label, 0.0), weight)

    def fold(self, tokens: Sequence[str]) -> Sequence[str]:
        """The word keys phrases are looked up by: the tokens, folded when the matcher folds."""
        folds = self._folds
        if folds is None:
            return tokens
        keys: list[str] = []
        for token in tokens:
            key = folds.get(token)
            if key is None:
                key = fold_inflection(token)
                if len(folds) < _STARTS_CACHE_SIZE:
                    folds[token] = key
            keys.append(key)
        return keys

    def _longest_from(
        self, tokens: Sequence[str], keys: Sequence[str], start: int
    ) -> tuple[int, int, dict[str, float]]:
        """End of the longest match from `start`, where scanning resumes after it, and its weights."""
        best_end = best_resume = start
        best_outputs: dict[str, float] = {}
        no_gap = -1
        pending: list[tuple[_Node, int, int]] = [(self._root, start, no_gap)]
        count = len(tokens)
        while pending:
            node, position, gap_start = pending.pop()
            if node.outputs and position > best_end:
                best_end, best_outputs = position, node.outputs
                best_resume = position if gap_start == no_gap else gap_start
            if node.gap is not None:
                # A gap may skip up to MAX_GAP_TOKENS tokens but must leave one for the word after it.
                last_skip = min(position + MAX_GAP_TOKENS, count - 1)
                opened = position if gap_start == no_gap else gap_start
                pending.extend((node.gap, skip_to, opened) for skip_to in range(position, last_skip + 1))
            if position >= count:
                continue
            token = tokens[position]
            following = position + 1
            word_child = node.words.get(keys[position])
            if word_child is not None:
                pending.append((word_child, following, gap_start))
            for length in node.prefix_lengths:
                if length > len(token):
                    break
                prefix_child = node.prefixes.get(token[:length])
                if prefix_child is not None:
                    pending.append((prefix_child, following, gap_start))
            for token_class in _token_classes(token):
                class_child = node.classes.get(token_class)
                if class_child is not None:
                    pending.append((class_child, following, gap_start))
        return best_end, best_resume, best_outputs

    def _may_start_with(self, token: str, key: str) -> bool:
        known = self._starts.get(token)
        if known is not None:
            return known
        root = self._root
        starts = (
            key in root.words
            or any(token_class in root.classes for token_class in _token_classes(token))
            or any(token[:length] in root.prefixes for length in root.prefix_lengths)
        )
        if len(self._starts) < _STARTS_CACHE_SIZE:
            self._starts[token] = starts
        return starts

    def find(self, tokens: Sequence[str]) -> list[PhraseMatch]:
        """Leftmost-longest matches in text order; they overlap only where words sit inside a gap."""
        keys = self.fold(tokens)
        matches: list[PhraseMatch] = []
        position = 0
        while position < len(tokens):
            # Most tokens start no phrase: a remembered answer settles them without a trie walk.
            if not self._may_start_with(tokens[position], keys[position]):
                position += 1
                continue
            end, resume, outputs = self._longest_from(tokens, keys, position)
            if end > position:
                matches.append(PhraseMatch(position, end, dict(outputs)))
                position = resume
            else:
                position += 1
        return matches

    def label_weights(self, tokens: Sequence[str]) -> dict[str, float]:
        """Total weight per label over every match in the tokens."""
        return {label: evidence.total for label, evidence in self.label_evidence(tokens).items()}

    def label_evidence(self, tokens: Sequence[str]) -> dict[str, LabelEvidence]:
        """Total, strongest and longest match per label over every match in the tokens."""
        evidence: dict[str, LabelEvidence] = {}
        for match in self.find(tokens):
            length = match.end - match.start
            for label, weight in match.weights.items():
                found = evidence.get(label)
                if found is None:
                    found = evidence[label] = LabelEvidence()
                found.add(weight, length)
        return evidence


class PhraseConfigError(ValueError):
    """A phrase configuration file that cannot be used; the message names the file and the entry."""


def read_yaml_document(path: Path, error: type[PhraseConfigError]) -> object:
    """The parsed YAML document at `path`; unreadable or malformed files raise `error` naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as cause:
        raise error(f"{path}: cannot read: {cause}") from None


def require_mapping(
    where: str, value: object, allowed_keys: frozenset[str], error: type[PhraseConfigError]
) -> dict[object, object]:
    """`value` as a mapping whose keys are all in `allowed_keys`; anything else raises `error`."""
    if not isinstance(value, dict):
        raise error(f"{where}: expected a mapping with keys {sorted(allowed_keys)}")
    unexpected = sorted(set(value) - allowed_keys, key=str)
    if unexpected:
        raise error(f"{where}: unknown keys {unexpected}")
    return value


def check_phrases(where: str, phrases: Iterable[str], error: type[PhraseConfigError]) -> None:
    """Raise `error` for the first phrase that does not compile."""
    for phrase in phrases:
        try:
            parse_phrase(phrase)
        except PhraseSyntaxError as cause:
            raise error(f"{where}: {cause}") from None


def read_examples(where: str, value: object, error: type[PhraseConfigError]) -> tuple[str, ...]:
    """An optional list of example sentences (documentation the tests check)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(example, str) for example in value):
        raise error(f"{where}: 'examples' must be a list of sentences")
    return tuple(value)
