"""The social P&L: exact lines from counts, every line explained, history re-stated by a new model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cxpulse_scorer.domain.pnl import (
    PnlCounts,
    PnlModel,
    PnlModelInvalid,
    event_pnl_counts,
    load_pnl_model,
    period_days,
    pnl_lines,
)

CONFIG = Path(__file__).resolve().parents[3] / "config" / "pnl"
MODEL = PnlModel.model_validate(
    {
        "version": "test-1",
        "customer_value": {"default": 1000},
        "churn": {
            "baseline": 0.2,
            "promoter": 0.1,
            "passive": 0.2,
            "detractor": 0.4,
            "per_negative_exposure": 0.01,
            "per_positive_exposure": 0.002,
        },
        "customer_share_of_reach": 0.1,
        "cost_per_contact": {"social": 2, "phone": 10},
        "social_deflection_rate": 0.5,
        "cpm": 5,
    }
)


def by_name(counts: PnlCounts, model: PnlModel = MODEL) -> dict[str, float]:
    return {line.name: line.value for line in pnl_lines(counts, model)}


def test_lines_follow_their_formulas_exactly() -> None:
    counts = PnlCounts(
        promoters=10,
        passives=5,
        detractors=4,
        positive_reach=20_000,
        negative_reach=50_000,
        positive_mentions=3,
        negative_mentions=6,
        care_contacts=6,
    )
    lines = by_name(counts)
    assert lines["revenue_influenced_survey"] == 10 * 1000 * (0.2 - 0.1)
    assert lines["revenue_influenced_social"] == pytest.approx(20_000 * 0.1 * 1000 * 0.002)
    assert lines["revenue_at_risk_survey"] == pytest.approx(-(4 * 1000 * 0.2 + 5 * 1000 * 0.0))
    assert lines["revenue_at_risk_social"] == pytest.approx(-50_000 * 0.1 * 1000 * 0.01)
    assert lines["service_cost"] == -12
    assert lines["deflection_savings"] == 6 * 0.5 * 8
    assert lines["earned_media_value"] == 100
    assert lines["net"] == pytest.approx(sum(value for name, value in lines.items() if name != "net"))


def test_every_line_carries_formula_inputs_version_and_basis() -> None:
    for line in pnl_lines(PnlCounts(promoters=1, care_contacts=2), MODEL):
        assert line.formula
        assert line.inputs
        assert line.model_version == "test-1"
        assert line.basis in {"measured", "estimated"}
    basis = {line.name: line.basis for line in pnl_lines(PnlCounts(promoters=1), MODEL)}
    assert basis["revenue_influenced_survey"] == "measured"
    assert basis["earned_media_value"] == "estimated"


def test_a_new_model_version_restates_the_same_counts() -> None:
    counts = PnlCounts(promoters=7, detractors=3)
    richer = MODEL.model_copy(update={"version": "test-2", "customer_value": {"default": 2000}})
    assert by_name(counts, richer)["revenue_influenced_survey"] == 2 * by_name(counts)["revenue_influenced_survey"]
    assert {line.model_version for line in pnl_lines(counts, richer)} == {"test-2"}


def test_event_counts_by_kind() -> None:
    assert event_pnl_counts(
        kind="survey", metric="nps", score=9, sentiment="positive", reach=0, care_contact=False
    ) == PnlCounts(promoters=1)
    assert (
        event_pnl_counts(kind="survey", metric="csat", score=1, sentiment="negative", reach=0, care_contact=False)
        == PnlCounts()
    )
    assert event_pnl_counts(
        kind="mention", metric=None, score=None, sentiment="negative", reach=500, care_contact=True
    ) == PnlCounts(negative_mentions=1, negative_reach=500, care_contacts=1)


def test_periods_are_local_days_weeks_from_monday_and_calendar_months() -> None:
    assert period_days("day", date(2026, 2, 11)) == [date(2026, 2, 11)]
    week = period_days("week", date(2026, 2, 11))
    assert (week[0], week[-1], len(week)) == (date(2026, 2, 9), date(2026, 2, 15), 7)
    month = period_days("month", date(2024, 2, 11))
    assert (month[0], month[-1]) == (date(2024, 2, 1), date(2024, 2, 29))


@pytest.mark.parametrize("path", sorted(CONFIG.glob("*.yaml")), ids=lambda path: path.name)
def test_shipped_models_load(path: Path) -> None:
    assert load_pnl_model(path).version


def test_model_without_default_value_is_refused(tmp_path: Path) -> None:
    document = MODEL.model_dump()
    document["customer_value"] = {"gold": 10}
    import yaml

    broken = tmp_path / "pnl.yaml"
    broken.write_text(yaml.safe_dump(document))
    with pytest.raises(PnlModelInvalid, match="default"):
        load_pnl_model(broken)
