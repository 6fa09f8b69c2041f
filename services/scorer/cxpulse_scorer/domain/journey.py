"""Which journey stage a piece of feedback is about, from a per-brand stage taxonomy.

An airline's journey (booking, airport, flight, baggage, ...) is not a telecom's (discover,
purchase, onboard, use, ...), so every brand names a taxonomy file in `config/taxonomies/`.
Each stage lists weighted phrases; a text's score for a stage is the sum of the weights of the
phrases found in it (see `phrases` for the phrase syntax and the bounded matching). Words are
matched through their inflections ("delays", "delayed" and "delaying" all match "delay").

A stage may also list `context` phrases: where the passenger was or who they are ("at the
airport", "gate", "gold member", "my reservation") rather than what failed them. A complaint names
its setting in passing ("stuck at the airport for six hours" is a delay, "gold member and nobody
calls back" is about the contact centre), so context phrases decide only when no stage has
`min_score` of complaint evidence, and then with half the confidence. They share the matcher
with the complaint phrases, so a longer phrase of either kind overrides the words inside it.

When another stage comes within `tie_ratio` of the best score, the more specific evidence
decides: the stage whose strongest single phrase weighs most (the taxonomy's author gave a
phrase that nearly settles the stage a high weight), then the longer phrase, then the higher
total. Only evidence equal on all three is a tie.

A text whose complaint and context phrases together reach less than `min_score` falls back on
the words of the stage's own description, examples and multi-word phrases: each content word
shared with a stage counts in proportion to how few stages use it (an inverse document frequency over the
stages), and the best stage wins if its runner-up is not within `tie_ratio` of it. These
guesses carry a low confidence. A text with no evidence even there, or a tie, is `unknown`:
guessing between equally plausible stages would send feedback to the wrong team.

Surveys carry their stage: the scorer keeps it as given and uses `is_known` to count a stage
outside the brand's taxonomy as unmapped, never rewriting it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cxpulse_scorer.domain.phrases import (
    NUMBER_WORDS,
    WAITING_TIME_UNITS,
    LabelEvidence,
    PhraseConfigError,
    PhraseMatcher,
    check_phrases,
    fold_inflection,
    parse_phrase,
    read_examples,
    read_yaml_document,
    require_mapping,
    tokenize,
)

UNKNOWN_STAGE: Final = "unknown"
DEFAULT_MIN_SCORE: Final = 0.5
DEFAULT_TIE_RATIO: Final = 0.8
# Evidence worth this much total weight gives half the confidence a decisive text can reach.
_HALF_CONFIDENCE_SCORE: Final = 1.0
# A guess settled by the specificity of its evidence rather than its weight is not sure of
# itself, but it is not a coin toss either.
_TIE_BROKEN_SEPARATION: Final = 0.1
# A stage told only by the setting of a complaint is a weaker guess than one told by its object.
_CONTEXT_CONFIDENCE_FACTOR: Final = 0.5
# Matcher labels of context phrases: a slug never contains a space, so these cannot clash.
_CONTEXT_LABEL_SUFFIX: Final = " context"
# Guesses from the descriptions' and examples' words are never more than this confident.
_FALLBACK_MAX_CONFIDENCE: Final = 0.25
# Content words shorter than this are abbreviations or fillers as often as cues.
_MIN_FALLBACK_WORD_LENGTH: Final = 3
# Function words, and words about feelings or time that any stage's text may carry: they say
# nothing about where in the journey a text is.
_STOP_WORDS: Final = frozenset(
    {
        "about", "above", "after", "again", "against", "all", "also", "although", "always", "am",
        "among", "an", "and", "another", "any", "anyone", "anything", "are", "around", "as", "at",
        "away", "back", "be", "because", "been", "before", "being", "below", "between", "both", "but",
        "by", "can", "cannot", "cant", "could", "couldnt", "did", "didnt", "do", "does", "doesnt",
        "doing", "done", "dont", "down", "during", "each", "even", "ever", "every", "everyone",
        "everything", "few", "for", "from", "further", "get", "gets", "getting", "give", "given", "go",
        "goes", "going", "gone", "got", "had", "hadnt", "has", "hasnt", "have", "havent", "having",
        "he", "her", "here", "hers", "him", "his", "how", "however", "if", "im", "in", "into", "is",
        "isnt", "it", "its", "itself", "ive", "just", "know", "last", "let", "like", "made", "make",
        "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "need", "never",
        "new", "next", "no", "nobody", "none", "nor", "not", "nothing", "now", "of", "off", "often",
        "on", "once", "one", "only", "or", "other", "our", "ours", "out", "over", "own", "please",
        "really", "said", "same", "say", "see", "seem", "she", "should", "since", "so", "some",
        "someone", "something", "still", "such", "sure", "take", "tell", "than", "thank", "thanks",
        "that", "thats", "the", "their", "them", "then", "there", "these", "they", "thing", "things",
        "this", "those", "though", "through", "thus", "to", "today", "too", "tried", "try", "trying",
        "under", "until", "up", "upon", "us", "very", "want", "was", "wasnt", "way", "we", "well",
        "were", "werent", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose",
        "why", "will", "with", "without", "wont", "would", "wouldnt", "yes", "yet", "you", "your",
        "youre", "yours", "yourself",
        "good", "great", "bad", "terrible", "awful", "worst", "best", "love", "hate", "happy", "sad",
        "angry", "disappointed", "horrible", "amazing", "nice", "poor", "sorry", "ok", "okay", "time",
        "times", "day", "days", "week", "weeks", "hour", "hours", "minute", "minutes", "year", "years",
        "ago", "soon", "yesterday", "tonight", "tomorrow", "morning", "night",
    }
)  # fmt: skip

_STAGE_SLUG_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TAXONOMY_KEYS: Final = frozenset({"name", "description", "min_score", "tie_ratio", "stages"})
_STAGE_KEYS: Final = frozenset({"description", "phrases", "context", "examples"})
_PHRASE_SYNTAX_WORDS: Final = NUMBER_WORDS | WAITING_TIME_UNITS


class TaxonomyError(PhraseConfigError):
    """A taxonomy file that cannot be used; the message names the file and, where known, the stage."""


@dataclass(frozen=True, slots=True)
class StageGuess:
    stage: str
    confidence: float


UNKNOWN_GUESS: Final = StageGuess(UNKNOWN_STAGE, 0.0)


def _content_words(tokens: Iterable[str]) -> set[str]:
    """Folded words that may point to a stage; a word folding like a stop word is left out too,
    since text is compared folded ("timing" and "times" both fold to "tim")."""
    excluded = _STOP_WORDS | _PHRASE_SYNTAX_WORDS
    excluded_keys = {fold_inflection(word) for word in excluded}
    return {
        key
        for token in tokens
        if len(token) >= _MIN_FALLBACK_WORD_LENGTH and token.isalpha() and token not in excluded
        for key in (fold_inflection(token),)
        if key not in excluded_keys
    }


def _phrase_words(phrase: str) -> list[str]:
    return [element.value for element in parse_phrase(phrase) if element.kind == "word"]


class _StageWords:
    """The fallback: each stage's content words, weighted by how few stages share each."""

    def __init__(self, words_per_stage: Mapping[str, set[str]]) -> None:
        stage_count = len(words_per_stage)
        stages_per_word: dict[str, list[str]] = {}
        for stage, words in words_per_stage.items():
            for word in words:
                stages_per_word.setdefault(word, []).append(stage)
        # A word every stage uses weighs nothing; one only a single stage uses, log(stages).
        self._weights: dict[str, tuple[float, tuple[str, ...]]] = {
            word: (math.log(stage_count / len(stages)), tuple(stages))
            for word, stages in stages_per_word.items()
            if len(stages) < stage_count
        }

    def scores(self, keys: Iterable[str]) -> dict[str, float]:
        totals: dict[str, float] = {}
        for key in set(keys):
            found = self._weights.get(key)
            if found is None:
                continue
            weight, stages = found
            for stage in stages:
                totals[stage] = totals.get(stage, 0.0) + weight
        return totals


class StageTaxonomy:
    """A brand's journey stages with the phrases that point to each."""

    def __init__(
        self,
        name: str,
        phrases: Mapping[str, Mapping[str, float]],
        *,
        context: Mapping[str, Mapping[str, float]] | None = None,
        examples: Mapping[str, Sequence[str]] | None = None,
        descriptions: Mapping[str, str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        tie_ratio: float = DEFAULT_TIE_RATIO,
    ) -> None:
        """`phrases` maps each stage, in journey order, to {phrase: weight} of complaint evidence;
        `context` maps stages to {phrase: weight} of setting, used when that evidence is too weak."""
        if not phrases:
            raise ValueError(f"taxonomy {name!r} has no stages")
        if min_score <= 0 or not 0 < tie_ratio < 1:
            raise ValueError(f"taxonomy {name!r}: min_score must be > 0 and tie_ratio within (0, 1)")
        context = context or {}
        if not set(context) <= set(phrases):
            raise ValueError(f"taxonomy {name!r}: context for unknown stages {sorted(set(context) - set(phrases))}")
        self.name = name
        self.stages: tuple[str, ...] = tuple(phrases)
        self.examples: dict[str, tuple[str, ...]] = {
            stage: tuple((examples or {}).get(stage, ())) for stage in self.stages
        }
        self.min_score = min_score
        self.tie_ratio = tie_ratio
        self._known = frozenset(self.stages)
        self._context_labels = {stage + _CONTEXT_LABEL_SUFFIX: stage for stage in context}
        self._matcher = PhraseMatcher(
            [
                *((phrase, stage, weight) for stage, table in phrases.items() for phrase, weight in table.items()),
                *(
                    (phrase, stage + _CONTEXT_LABEL_SUFFIX, weight)
                    for stage, table in context.items()
                    for phrase, weight in table.items()
                ),
            ],
            fold_inflections=True,
        )
        stage_texts = {stage: [(descriptions or {}).get(stage, ""), *self.examples[stage]] for stage in self.stages}
        self._stage_words = _StageWords(
            {
                stage: _content_words(
                    [word for text in stage_texts[stage] for word in tokenize(text)]
                    + [word for phrase in phrases[stage] for word in _phrase_words(phrase)]
                    + [word for phrase in context.get(stage, {}) for word in _phrase_words(phrase)]
                )
                for stage in self.stages
            }
        )

    def is_known(self, stage: str) -> bool:
        return stage in self._known

    def stage_scores(self, text: str) -> dict[str, float]:
        """The complaint phrase evidence per stage; stages without any are left out."""
        return {stage: found.total for stage, found in self._split_evidence(tokenize(text))[0].items()}

    def context_scores(self, text: str) -> dict[str, float]:
        """The context phrase evidence per stage; stages without any are left out."""
        return {stage: found.total for stage, found in self._split_evidence(tokenize(text))[1].items()}

    def _split_evidence(self, tokens: Sequence[str]) -> tuple[dict[str, LabelEvidence], dict[str, LabelEvidence]]:
        """(complaint evidence, context evidence) per stage."""
        complaint: dict[str, LabelEvidence] = {}
        context: dict[str, LabelEvidence] = {}
        for label, found in self._matcher.label_evidence(tokens).items():
            stage = self._context_labels.get(label)
            if stage is None:
                complaint[label] = found
            else:
                context[stage] = found
        return complaint, context

    def infer_tokens(self, tokens: Sequence[str]) -> StageGuess:
        """`infer` on text already tokenised by `phrases.tokenize`, to share one tokenisation."""
        complaint, context = self._split_evidence(tokens)
        if complaint and max(found.total for found in complaint.values()) >= self.min_score:
            return self._from_phrases(complaint, tokens)
        if context:
            combined = _combined(complaint, context)
            if max(found.total for found in combined.values()) >= self.min_score:
                guess = self._from_phrases(combined, tokens)
                return StageGuess(guess.stage, round(guess.confidence * _CONTEXT_CONFIDENCE_FACTOR, 4))
        return self._from_stage_words(tokens, self.stages)

    def _from_phrases(self, evidence: Mapping[str, LabelEvidence], tokens: Sequence[str]) -> StageGuess:
        ranked = sorted(evidence.items(), key=lambda item: -item[1].total)
        best_stage, best = ranked[0]
        runner_up = ranked[1][1].total if len(ranked) > 1 else 0.0
        strength = best.total / (best.total + _HALF_CONFIDENCE_SCORE)
        if runner_up < best.total * self.tie_ratio:
            return StageGuess(best_stage, round(strength * (best.total - runner_up) / best.total, 4))
        close = [(stage, found) for stage, found in ranked if found.total >= best.total * self.tie_ratio]
        by_specificity = sorted(close, key=lambda item: (item[1].strongest, item[1].longest, item[1].total))
        winner, winner_evidence = by_specificity[-1]
        rival = by_specificity[-2][1]
        if (winner_evidence.strongest, winner_evidence.longest, winner_evidence.total) == (
            rival.strongest,
            rival.longest,
            rival.total,
        ):
            tied = [stage for stage, found in close if found.total == winner_evidence.total]
            return self._from_stage_words(tokens, tied)
        separation = max((winner_evidence.total - rival.total) / winner_evidence.total, _TIE_BROKEN_SEPARATION)
        strength = winner_evidence.total / (winner_evidence.total + _HALF_CONFIDENCE_SCORE)
        return StageGuess(winner, round(strength * separation, 4))

    def _from_stage_words(self, tokens: Sequence[str], candidates: Sequence[str]) -> StageGuess:
        scores = self._stage_words.scores(self._matcher.fold(tokens))
        ranked = sorted(((scores.get(stage, 0.0), stage) for stage in candidates), reverse=True)
        best, best_stage = ranked[0]
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        if best <= 0 or runner_up >= best * self.tie_ratio:
            return UNKNOWN_GUESS
        separation = (best - runner_up) / best
        return StageGuess(best_stage, round(_FALLBACK_MAX_CONFIDENCE * separation * best / (best + 1.0), 4))

    def infer(self, text: str) -> StageGuess:
        return self.infer_tokens(tokenize(text))

    def infer_many(self, texts: Iterable[str]) -> list[StageGuess]:
        return [self.infer_tokens(tokenize(text)) for text in texts]


def _combined(*evidence: Mapping[str, LabelEvidence]) -> dict[str, LabelEvidence]:
    """Per stage, the evidence of every table as if found by one set of phrases."""
    combined: dict[str, LabelEvidence] = {}
    for table in evidence:
        for stage, found in table.items():
            merged = combined.setdefault(stage, LabelEvidence())
            merged.total += found.total
            merged.strongest = max(merged.strongest, found.strongest)
            merged.longest = max(merged.longest, found.longest)
    return combined


def _positive_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise TaxonomyError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def _phrase_weights(where: str, phrases: dict[object, object]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for phrase, weight in phrases.items():
        if not isinstance(phrase, str):
            raise TaxonomyError(f"{where}: phrase {phrase!r} must be text")
        weights[phrase] = _positive_number(weight, f"{where}: weight of {phrase!r}")
    check_phrases(where, weights, TaxonomyError)
    return weights


@dataclass(frozen=True, slots=True)
class _StageSpec:
    phrases: dict[str, float]
    context: dict[str, float]
    examples: tuple[str, ...]
    description: str


def _parse_stage(where: str, body: object) -> _StageSpec:
    stage = require_mapping(where, body, _STAGE_KEYS, TaxonomyError)
    phrases = stage.get("phrases")
    if not isinstance(phrases, dict) or not phrases:
        raise TaxonomyError(f"{where}: 'phrases' must be a non-empty mapping of phrase to weight")
    context = stage.get("context", {})
    if not isinstance(context, dict):
        raise TaxonomyError(f"{where}: 'context' must be a mapping of phrase to weight")
    description = stage.get("description", "")
    if not isinstance(description, str):
        raise TaxonomyError(f"{where}: 'description' must be text")
    return _StageSpec(
        _phrase_weights(where, phrases),
        _phrase_weights(f"{where} context", context),
        read_examples(where, stage.get("examples"), TaxonomyError),
        description,
    )


def parse_taxonomy(document: object, source: str) -> StageTaxonomy:
    """Validate a parsed taxonomy document; `source` names it in error messages."""
    taxonomy = require_mapping(source, document, _TAXONOMY_KEYS, TaxonomyError)
    stages = taxonomy.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise TaxonomyError(f"{source}: 'stages' must be a non-empty mapping of stage to phrases")
    specs: dict[str, _StageSpec] = {}
    for stage, body in stages.items():
        if not isinstance(stage, str) or not _STAGE_SLUG_RE.match(stage) or stage == UNKNOWN_STAGE:
            raise TaxonomyError(
                f"{source}: stage {stage!r} must be a slug (a-z, 0-9, '-', '_') other than {UNKNOWN_STAGE!r}"
            )
        specs[stage] = _parse_stage(f"{source}: stage {stage!r}", body)
    name = taxonomy.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise TaxonomyError(f"{source}: 'name' must be text")
    min_score = _positive_number(taxonomy.get("min_score", DEFAULT_MIN_SCORE), f"{source}: min_score")
    tie_ratio = _positive_number(taxonomy.get("tie_ratio", DEFAULT_TIE_RATIO), f"{source}: tie_ratio")
    if tie_ratio >= 1:
        raise TaxonomyError(f"{source}: tie_ratio must be below 1, got {tie_ratio!r}")
    return StageTaxonomy(
        name,
        {stage: spec.phrases for stage, spec in specs.items()},
        context={stage: spec.context for stage, spec in specs.items() if spec.context},
        examples={stage: spec.examples for stage, spec in specs.items()},
        descriptions={stage: spec.description for stage, spec in specs.items()},
        min_score=min_score,
        tie_ratio=tie_ratio,
    )


def load_taxonomy(path: Path) -> StageTaxonomy:
    """Read and validate one taxonomy file; raises TaxonomyError naming the file and the stage."""
    return parse_taxonomy(read_yaml_document(path, TaxonomyError), str(path))


def load_taxonomies(directory: Path) -> dict[str, StageTaxonomy]:
    """Every `*.yaml` taxonomy in a directory, keyed by file name without the extension."""
    return {path.stem: load_taxonomy(path) for path in sorted(directory.glob("*.yaml"))}
