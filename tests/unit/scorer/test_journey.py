"""Journey-stage inference: per-brand taxonomies, `unknown` when unsure, validated files, bounded work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cxpulse_cli.quality_journey import journey_quality_section
from cxpulse_scorer.domain.journey import (
    UNKNOWN_STAGE,
    StageTaxonomy,
    TaxonomyError,
    load_taxonomies,
    load_taxonomy,
)
from cxpulse_scorer.domain.phrases import (
    PhraseMatcher,
    PhraseSyntaxError,
    fold_inflection,
    parse_phrase,
    tokenize,
)

TAXONOMIES = Path(__file__).resolve().parents[3] / "config" / "taxonomies"
# Generous: a hang, not a slow run, is what this guards against; timing goals live in benchmarks.
HANG_GUARD_SECONDS = 1.0


@pytest.fixture(scope="module")
def airline() -> StageTaxonomy:
    return load_taxonomy(TAXONOMIES / "airline.yaml")


@pytest.fixture(scope="module")
def default() -> StageTaxonomy:
    return load_taxonomy(TAXONOMIES / "default.yaml")


def test_both_taxonomies_load_with_their_stages() -> None:
    taxonomies = load_taxonomies(TAXONOMIES)
    assert taxonomies["default"].stages == (
        "discover",
        "purchase",
        "onboard",
        "use",
        "support",
        "renew",
        "leave",
    )
    assert taxonomies["airline"].stages == ("booking", "airport", "flight", "baggage", "support", "loyalty")


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Trying to book a flight for Easter and your site errors at payment.", "booking"),
        ("Can I still change my reservation without the change fee?", "booking"),
        ("Only two kiosks working at the terminal and a huge queue for bag drop.", "airport"),
        ("TSA precheck lane closed, the security line goes out the door.", "airport"),
        ("Delayed 4 hrs at O'Hare, crew timed out.", "flight"),
        ("Captain kept us informed through the turbulence, lovely cabin crew too.", "flight"),
        ("Your app lost track of my checked bag after the connection.", "baggage"),
        ("Suitcase arrived with a broken handle, who do I file a claim with?", "baggage"),
        ("45 minutes on hold and the call dropped. Again.", "support"),
        ("Sent a complaint by email a month ago, still no reply.", "support"),
        ("Where are the miles for my January trips? Need them for status.", "loyalty"),
        ("Platinum for six years and never cleared the upgrade list once.", "loyalty"),
    ],
)
def test_airline_sentences_get_their_stage(airline: StageTaxonomy, text: str, stage: str) -> None:
    guess = airline.infer(text)
    assert guess.stage == stage, airline.stage_scores(text)
    assert 0 < guess.confidence <= 1


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Which is better for a family, you or your rivals? Any recommendations?", "discover"),
        ("Saw the billboard, do you offer unlimited data plans?", "discover"),
        ("Payment failed twice at checkout, basket emptied itself.", "purchase"),
        ("Placed an order on Monday, the discount code was ignored.", "purchase"),
        ("Setting up the router was painless, the welcome pack explained it all.", "onboard"),
        ("Tracking number shows nothing and the parcel hasn't arrived.", "onboard"),
        ("Broadband speed drops to nothing every evening.", "use"),
        ("The app is down again, third outage this week.", "use"),
        ("Tech support escalated my case and called back within the hour.", "support"),
        ("Warranty repair took a month and nobody updated me.", "support"),
        ("Out of contract next month, what's the loyalty discount?", "renew"),
        ("Renewal price is double what new customers pay.", "renew"),
        ("Sent my PAC code request today, goodbye.", "leave"),
        ("Switched to a cheaper network, close my account please.", "leave"),
    ],
)
def test_default_sentences_get_their_stage(default: StageTaxonomy, text: str, stage: str) -> None:
    assert default.infer(text).stage == stage, default.stage_scores(text)


@pytest.mark.parametrize("name", ["airline", "default"])
def test_every_example_in_the_files_gets_its_stage(name: str) -> None:
    taxonomy = load_taxonomy(TAXONOMIES / f"{name}.yaml")
    assert all(taxonomy.examples[stage] for stage in taxonomy.stages), "every stage documents examples"
    wrong = {
        example: (stage, taxonomy.infer(example).stage)
        for stage, examples in taxonomy.examples.items()
        for example in examples
        if taxonomy.infer(example).stage != stage
    }
    assert not wrong


@pytest.mark.parametrize("text", ["", "   ", "Hello there!", "@acme_air 🙂🙂", "https://example.com/x", "12345"])
def test_no_evidence_is_unknown(airline: StageTaxonomy, default: StageTaxonomy, text: str) -> None:
    for taxonomy in (airline, default):
        guess = taxonomy.infer(text)
        assert (guess.stage, guess.confidence) == (UNKNOWN_STAGE, 0.0)


def test_close_stages_are_settled_by_the_more_specific_phrase() -> None:
    taxonomy = StageTaxonomy(
        "t",
        {
            "alpha": {"apple": 1.0, "apple pie": 1.5},
            "beta": {"banana": 1.0, "cake": 0.7},
            "gamma": {"cherry": 0.9},
        },
    )
    assert taxonomy.infer("apple banana").stage == UNKNOWN_STAGE, "equal on weight, length and total"
    assert taxonomy.infer("apple cherry").stage == "alpha", "the stronger single phrase wins"
    assert taxonomy.infer("apple pie, banana and cake").stage == "alpha"
    assert taxonomy.infer("apple apple banana").stage == "alpha"
    settled = taxonomy.infer("apple cherry")
    decisive = taxonomy.infer("apple")
    assert 0 < settled.confidence < decisive.confidence


def test_longer_phrase_settles_stages_whose_strongest_phrases_weigh_the_same() -> None:
    taxonomy = StageTaxonomy("t", {"alpha": {"hold time": 2.0}, "beta": {"gate": 2.0}})
    assert taxonomy.infer("hold time at the gate").stage == "alpha"


def test_inflections_match_the_phrase_written_once() -> None:
    taxonomy = StageTaxonomy("t", {"flight": {"delay": 1.0, "missed connection": 2.0}, "support": {"call": 1.0}})
    for text in ["delays again", "delayed", "delaying us", "missed connections", "we missed our connection"]:
        assert taxonomy.infer(text).stage == "flight", text
    assert taxonomy.infer("they never called back").stage == "support"
    assert taxonomy.infer("calling").stage == "support"


def test_phrases_that_fold_together_count_once_with_the_larger_weight() -> None:
    matcher = PhraseMatcher([("bag", "b", 1.0), ("bags", "b", 1.5), ("bag", "c", 0.5)], fold_inflections=True)
    assert matcher.label_weights(tokenize("my bags")) == {"b": 1.5, "c": 0.5}
    plain = PhraseMatcher([("bag", "b", 1.0), ("bags", "b", 1.5)])
    assert plain.label_weights(tokenize("my bags")) == {"b": 1.5}
    assert plain.label_weights(tokenize("my bag")) == {"b": 1.0}


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("delays", "delay"),
        ("delayed", "delay"),
        ("delaying", "delay"),
        ("arrived", "arriv"),
        ("arrive", "arriv"),
        ("cancelled", "cancel"),
        ("canceled", "cancel"),
        ("replies", "reply"),
        ("replied", "reply"),
        ("boxes", "box"),
        ("status", "status"),
        ("need", "need"),
        ("thing", "thing"),
        ("bus", "bus"),
        ("3hrs", "3hrs"),
        ("connection", "connection"),
    ],
)
def test_fold_inflection(word: str, folded: str) -> None:
    assert fold_inflection(word) == folded


def test_without_phrase_evidence_the_stage_descriptions_and_examples_decide() -> None:
    taxonomy = StageTaxonomy(
        "t",
        {"kitchen": {"oven": 2.0, "kitchen sink": 2.0}, "garden": {"lawn": 2.0}},
        examples={"kitchen": ["The fridge hums all night."], "garden": ["Roses need pruning in spring."]},
        descriptions={"kitchen": "Cooking and appliances.", "garden": "Plants, hedges and the shed."},
    )
    assert taxonomy.stage_scores("the fridges are loud") == {}
    fridge = taxonomy.infer("the fridges are loud")
    assert fridge.stage == "kitchen"
    assert 0 < fridge.confidence <= 0.25
    assert taxonomy.infer("pruned the hedge").stage == "garden"
    assert taxonomy.infer("the sink is blocked").stage == "kitchen", "a word of a longer phrase is a cue too"
    assert taxonomy.infer("a shed full of appliances").stage == UNKNOWN_STAGE, "one word each is a tie"
    assert taxonomy.infer("it was terrible and nobody knew why").stage == UNKNOWN_STAGE
    assert taxonomy.infer("oven").confidence > fridge.confidence


def test_an_exact_tie_between_phrases_asks_the_stage_words() -> None:
    taxonomy = StageTaxonomy(
        "t",
        {"kitchen": {"door": 1.0}, "garden": {"gate": 1.0}},
        examples={"kitchen": ["The fridge hums."], "garden": ["The roses died."]},
    )
    assert taxonomy.infer("door and gate").stage == UNKNOWN_STAGE
    assert taxonomy.infer("door and gate, and the fridge").stage == "kitchen"


def test_evidence_below_the_minimum_is_unknown() -> None:
    taxonomy = StageTaxonomy("t", {"alpha": {"apple": 0.2}}, min_score=0.5)
    assert taxonomy.infer("apple").stage == UNKNOWN_STAGE
    assert taxonomy.infer("apple apple apple").stage == "alpha"


def test_confidence_grows_with_evidence_and_shrinks_with_a_rival() -> None:
    taxonomy = StageTaxonomy("t", {"alpha": {"apple": 1.0}, "beta": {"banana": 1.0}})
    one, three = taxonomy.infer("apple"), taxonomy.infer("apple apple apple")
    contested = taxonomy.infer("apple apple apple banana")
    assert 0 < one.confidence < three.confidence <= 1
    assert 0 < contested.confidence < three.confidence


def test_longer_phrases_override_the_words_inside_them(airline: StageTaxonomy) -> None:
    assert airline.infer("the line").stage == "airport"
    assert airline.infer("the phone line").stage == "support"
    assert airline.infer("flight status").stage == "flight"


def test_context_decides_only_without_complaint_evidence() -> None:
    taxonomy = StageTaxonomy(
        "t",
        {"kitchen": {"burnt": 2.0}, "garden": {"weeds": 2.0}},
        context={"kitchen": {"oven": 1.0}, "garden": {"lawn": 1.0, "garden shed": 3.0}},
    )
    assert taxonomy.infer("the oven").stage == "kitchen"
    assert taxonomy.infer("weeds beside the oven").stage == "garden", "a setting never outweighs a complaint"
    assert taxonomy.infer("burnt toast in the garden shed").stage == "kitchen"
    assert taxonomy.infer("the oven on the lawn").stage == UNKNOWN_STAGE, "equal settings are a tie"
    assert taxonomy.stage_scores("weeds beside the oven") == {"garden": 2.0}
    assert taxonomy.context_scores("weeds beside the oven") == {"kitchen": 1.0}
    assert 0 < taxonomy.infer("the oven").confidence < taxonomy.infer("it is burnt").confidence


def test_context_for_a_stage_without_phrases_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stages"):
        StageTaxonomy("t", {"kitchen": {"burnt": 2.0}}, context={"attic": {"dust": 1.0}})


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Stuck at the airport for 6 hours now", "flight"),
        ("Sat at the gate for 2 hrs, still no pilot", "flight"),
        ("Gold member and nobody will call me back", "support"),
        ("The gate agent was so rude to my mother", "support"),
        ("Tried to use my miles on your website and it errors at payment", "booking"),
        ("Platinum for 8 years and you lost my bag twice", "baggage"),
        ("Gate agent says maybe tomorrow, delayed again", "flight"),
        ("At the airport", "airport"),
        ("About my reservation", "booking"),
        ("Elite status and miles", "loyalty"),
    ],
)
def test_the_setting_of_a_complaint_yields_to_what_it_is_about(airline: StageTaxonomy, text: str, stage: str) -> None:
    assert airline.infer(text).stage == stage, (airline.stage_scores(text), airline.context_scores(text))


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("The flight attendant was rude when I asked for water", "flight"),
        ("The crew was rude and unhelpful the whole flight", "flight"),
        ("Rude staff at the ticket counter", "support"),
        ("On hold 2 hrs about my lost suitcase", "baggage"),
        ("My bag is still missing, called 5 times", "baggage"),
        ("45 min in line at check in, only one agent", "airport"),
    ],
)
def test_cabin_crew_and_stated_failures_outrank_conduct_and_channel_words(
    airline: StageTaxonomy, text: str, stage: str
) -> None:
    assert airline.infer(text).stage == stage, airline.stage_scores(text)


def test_a_stated_delay_counts_more_than_the_word(airline: StageTaxonomy) -> None:
    plain = airline.stage_scores("delayed")["flight"]
    assert airline.stage_scores("delayed 3 hours")["flight"] > plain
    assert airline.stage_scores("delayed three hrs")["flight"] > plain
    assert airline.stage_scores("delayed 3hrs")["flight"] > plain


def test_is_known_tells_mapped_from_unmapped_survey_stages(airline: StageTaxonomy, default: StageTaxonomy) -> None:
    assert airline.is_known("baggage")
    assert not airline.is_known("onboard")
    assert default.is_known("onboard")
    assert not default.is_known("baggage")
    assert not airline.is_known(UNKNOWN_STAGE)


def test_batch_matches_one_by_one(airline: StageTaxonomy) -> None:
    texts = ["lost my bag", "on hold for 2 hours", "", "nice lounge", "miles missing"]
    assert airline.infer_many(texts) == [airline.infer(text) for text in texts]
    assert airline.infer_many(iter(texts)) == airline.infer_many(texts)


@pytest.mark.parametrize(
    "text",
    [
        ("delayed 3 hours on hold " * 5_000)[:100_000],
        "a" * 100_000,
        ("why cant i " * 10_000)[:100_000],
        ("customer service " * 7_000)[:100_000],
        "🙂" * 100_000,
        ("1 " * 50_000)[:100_000],
    ],
    ids=["phrases", "one-long-word", "gap-patterns", "long-phrases", "emoji", "numbers"],
)
def test_work_per_text_is_bounded(airline: StageTaxonomy, default: StageTaxonomy, text: str) -> None:
    started = time.perf_counter()
    airline.infer(text)
    default.infer(text)
    assert time.perf_counter() - started < HANG_GUARD_SECONDS


def test_tokens_ignore_case_apostrophes_handles_and_links() -> None:
    assert tokenize("@united Can't BOOK https://t.co/x #LostLuggage 3hrs") == (
        "cant",
        "book",
        "lostluggage",
        "3",
        "hrs",
    )


def test_phrase_syntax() -> None:
    matcher = PhraseMatcher(
        [
            ("cancel*", "c", 1.0),
            ("why cant i ... in the app", "idea", 1.0),
            ("<num> <unit> on hold", "h", 1.0),
        ]
    )
    assert [match.weights for match in matcher.find(tokenize("Cancellation!"))] == [{"c": 1.0}]
    assert matcher.label_weights(tokenize("why can't I pay for seats in the app")) == {"idea": 1.0}
    assert matcher.label_weights(tokenize("why can't I " + "x " * 7 + "in the app")) == {}
    assert matcher.label_weights(tokenize("two hours on hold")) == {"h": 1.0}
    for bad in ["", "...", "... late", "late ...", "late ... ... now", "*", "can*cel*", "ca*n", "!!"]:
        with pytest.raises(PhraseSyntaxError):
            parse_phrase(bad)


def _write(directory: Path, text: str) -> Path:
    path = directory / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "names_stage", "message"),
    [
        ("just text", False, "expected a mapping"),
        ("name: x\n", False, "'stages' must be"),
        ("stages: {}\n", False, "'stages' must be"),
        ("stages:\n  flight: {phrases: {late: 1}}\ntypo: 1\n", False, "unknown keys"),
        ("stages:\n  flight: {phrase: {late: 1}}\n", True, "unknown keys"),
        ("stages:\n  flight: {phrases: {}}\n", True, "non-empty mapping"),
        ("stages:\n  flight: {phrases: [late, delay]}\n", True, "non-empty mapping"),
        ("stages:\n  flight: {phrases: {late: -1}}\n", True, "positive number"),
        ("stages:\n  flight: {phrases: {late: yes}}\n", True, "positive number"),
        ("stages:\n  flight: {phrases: {late: .nan}}\n", True, "positive number"),
        ("stages:\n  flight: {phrases: {'... late': 1}}\n", True, "gap"),
        ("stages:\n  flight: {phrases: {late: 1}, examples: late}\n", True, "examples"),
        ("stages:\n  flight: {phrases: {late: 1}, context: [gate]}\n", True, "'context' must be"),
        ("stages:\n  flight: {phrases: {late: 1}, context: {gate: 0}}\n", True, "positive number"),
        ("stages:\n  flight: {phrases: {late: 1}, context: {'... gate': 1}}\n", True, "gap"),
        ("stages:\n  Flight Ops: {phrases: {late: 1}}\n", True, "slug"),
        ("stages:\n  unknown: {phrases: {late: 1}}\n", True, "slug"),
        ("tie_ratio: 1.5\nstages:\n  flight: {phrases: {late: 1}}\n", False, "tie_ratio"),
        ("stages: [oops\n", False, "cannot read"),
    ],
)
def test_loader_errors_name_the_file_and_the_stage(
    tmp_path: Path, content: str, names_stage: bool, message: str
) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(TaxonomyError, match=message) as raised:
        load_taxonomy(path)
    assert str(path) in str(raised.value)
    if names_stage:
        assert "stage '" in str(raised.value)


def test_missing_file_is_a_taxonomy_error(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"absent\.yaml"):
        load_taxonomy(tmp_path / "absent.yaml")


def test_quality_section_says_when_the_data_is_absent(tmp_path: Path) -> None:
    assert "Skipped" in journey_quality_section(tmp_path)


def test_quality_section_reports_figures_only(shared_data: Path) -> None:
    section = journey_quality_section(shared_data)
    assert section.startswith("## Journey stage")
    assert "accuracy (`unknown` counts as wrong)" in section
    assert "| support |" in section
    assert "| inferred total |" in section
    assert "@" not in section, "no tweet text may leak into the report"
