"""Which journey stage a piece of feedback is about, from a per-brand stage taxonomy.

An airline's journey (booking, airport, flight, baggage, ...) is not a telecom's (discover,
purchase, onboard, use, ...), so every brand names a taxonomy file in `config/taxonomies/`.
Each stage lists weighted phrases; a text's score for a stage is the sum of the weights of the
phrases found in it (see `phrases` for the phrase syntax and the bounded matching).

A text is `unknown` when no stage reaches the taxonomy's `min_score`, or when the runner-up is
within `tie_ratio` of the best: guessing between two plausible stages would send feedback to
the wrong team more often than it helps.

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
    PhraseConfigError,
    PhraseMatcher,
    check_phrases,
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

_STAGE_SLUG_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TAXONOMY_KEYS: Final = frozenset({"name", "description", "min_score", "tie_ratio", "stages"})
_STAGE_KEYS: Final = frozenset({"description", "phrases", "examples"})


class TaxonomyError(PhraseConfigError):
    """A taxonomy file that cannot be used; the message names the file and, where known, the stage."""


@dataclass(frozen=True, slots=True)
class StageGuess:
    stage: str
    confidence: float


UNKNOWN_GUESS: Final = StageGuess(UNKNOWN_STAGE, 0.0)


class StageTaxonomy:
    """A brand's journey stages with the phrases that point to each."""

    def __init__(
        self,
        name: str,
        phrases: Mapping[str, Mapping[str, float]],
        *,
        examples: Mapping[str, Sequence[str]] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        tie_ratio: float = DEFAULT_TIE_RATIO,
    ) -> None:
        """`phrases` maps each stage, in journey order, to {phrase: weight}."""
        if not phrases:
            raise ValueError(f"taxonomy {name!r} has no stages")
        if min_score <= 0 or not 0 < tie_ratio < 1:
            raise ValueError(f"taxonomy {name!r}: min_score must be > 0 and tie_ratio within (0, 1)")
        self.name = name
        self.stages: tuple[str, ...] = tuple(phrases)
        self.examples: dict[str, tuple[str, ...]] = {
            stage: tuple((examples or {}).get(stage, ())) for stage in self.stages
        }
        self.min_score = min_score
        self.tie_ratio = tie_ratio
        self._known = frozenset(self.stages)
        self._matcher = PhraseMatcher(
            (phrase, stage, weight) for stage, table in phrases.items() for phrase, weight in table.items()
        )

    def is_known(self, stage: str) -> bool:
        return stage in self._known

    def stage_scores(self, text: str) -> dict[str, float]:
        """The evidence per stage; stages without any are left out."""
        return self._matcher.label_weights(tokenize(text))

    def infer_tokens(self, tokens: Sequence[str]) -> StageGuess:
        """`infer` on text already tokenised by `phrases.tokenize`, to share one tokenisation."""
        scores = self._matcher.label_weights(tokens)
        if not scores:
            return UNKNOWN_GUESS
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        best_stage, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if best < self.min_score or runner_up >= best * self.tie_ratio:
            return UNKNOWN_GUESS
        strength = best / (best + _HALF_CONFIDENCE_SCORE)
        separation = (best - runner_up) / best
        return StageGuess(best_stage, round(strength * separation, 4))

    def infer(self, text: str) -> StageGuess:
        return self.infer_tokens(tokenize(text))

    def infer_many(self, texts: Iterable[str]) -> list[StageGuess]:
        return [self.infer_tokens(tokenize(text)) for text in texts]


def _positive_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise TaxonomyError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def _parse_stage(where: str, body: object) -> tuple[dict[str, float], tuple[str, ...]]:
    stage = require_mapping(where, body, _STAGE_KEYS, TaxonomyError)
    phrases = stage.get("phrases")
    if not isinstance(phrases, dict) or not phrases:
        raise TaxonomyError(f"{where}: 'phrases' must be a non-empty mapping of phrase to weight")
    weights: dict[str, float] = {}
    for phrase, weight in phrases.items():
        if not isinstance(phrase, str):
            raise TaxonomyError(f"{where}: phrase {phrase!r} must be text")
        weights[phrase] = _positive_number(weight, f"{where}: weight of {phrase!r}")
    check_phrases(where, weights, TaxonomyError)
    return weights, read_examples(where, stage.get("examples"), TaxonomyError)


def parse_taxonomy(document: object, source: str) -> StageTaxonomy:
    """Validate a parsed taxonomy document; `source` names it in error messages."""
    taxonomy = require_mapping(source, document, _TAXONOMY_KEYS, TaxonomyError)
    stages = taxonomy.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise TaxonomyError(f"{source}: 'stages' must be a non-empty mapping of stage to phrases")
    phrases: dict[str, dict[str, float]] = {}
    examples: dict[str, tuple[str, ...]] = {}
    for stage, body in stages.items():
        if not isinstance(stage, str) or not _STAGE_SLUG_RE.match(stage) or stage == UNKNOWN_STAGE:
            raise TaxonomyError(
                f"{source}: stage {stage!r} must be a slug (a-z, 0-9, '-', '_') other than {UNKNOWN_STAGE!r}"
            )
        phrases[stage], examples[stage] = _parse_stage(f"{source}: stage {stage!r}", body)
    name = taxonomy.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise TaxonomyError(f"{source}: 'name' must be text")
    min_score = _positive_number(taxonomy.get("min_score", DEFAULT_MIN_SCORE), f"{source}: min_score")
    tie_ratio = _positive_number(taxonomy.get("tie_ratio", DEFAULT_TIE_RATIO), f"{source}: tie_ratio")
    if tie_ratio >= 1:
        raise TaxonomyError(f"{source}: tie_ratio must be below 1, got {tie_ratio!r}")
    return StageTaxonomy(name, phrases, examples=examples, min_score=min_score, tie_ratio=tie_ratio)


def load_taxonomy(path: Path) -> StageTaxonomy:
    """Read and validate one taxonomy file; raises TaxonomyError naming the file and the stage."""
    return parse_taxonomy(read_yaml_document(path, TaxonomyError), str(path))


def load_taxonomies(directory: Path) -> dict[str, StageTaxonomy]:
    """Every `*.yaml` taxonomy in a directory, keyed by file name without the extension."""
    return {path.stem: load_taxonomy(path) for path in sorted(directory.glob("*.yaml"))}
