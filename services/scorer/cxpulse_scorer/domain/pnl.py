"""The social P&L: counted events times a versioned financial model, every line explained.

Only counts are stored (per brand and local day); lines are computed when asked, so a new model
version re-states all history from the same counts and no figure is ever double-counted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Period = Literal["day", "week", "month"]


class ChurnModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: float = Field(ge=0, le=1, description="annual churn of a customer we know nothing about")
    promoter: float = Field(ge=0, le=1)
    passive: float = Field(ge=0, le=1)
    detractor: float = Field(ge=0, le=1)
    per_negative_exposure: float = Field(ge=0, le=1, description="added churn of a customer who sees a complaint")
    per_positive_exposure: float = Field(ge=0, le=1, description="churn removed for one who sees praise")


class PnlModel(BaseModel):
    """`pnl.yaml`: the assumptions behind every line, versioned so history can be re-stated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    customer_value: dict[str, float] = Field(description="annual value by segment; `default` is required")
    churn: ChurnModel
    customer_share_of_reach: float = Field(ge=0, le=1, description="share of people reached who are customers")
    cost_per_contact: dict[str, float] = Field(description="care cost by channel: social, phone, email, ...")
    social_deflection_rate: float = Field(ge=0, le=1, description="share of social care contacts that spare a call")
    cpm: float = Field(ge=0, description="earned media value per 1,000 impressions")

    def value_of(self, segment: str = "default") -> float:
        return self.customer_value.get(segment, self.customer_value["default"])


class PnlModelInvalid(ValueError):
    pass


def load_pnl_model(path: Path) -> PnlModel:
    try:
        model = PnlModel.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as error:
        raise PnlModelInvalid(f"{path}: {error}") from error
    missing = sorted({"default"} - model.customer_value.keys()) + sorted(
        {"social", "phone"} - model.cost_per_contact.keys()
    )
    if missing:
        raise PnlModelInvalid(f"{path}: missing {sorted(missing)}")
    return model


@dataclass(frozen=True, slots=True)
class PnlCounts:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    positive_mentions: int = 0
    negative_mentions: int = 0
    positive_reach: int = 0
    negative_reach: int = 0
    care_contacts: int = 0

    def __add__(self, other: PnlCounts) -> PnlCounts:
        return PnlCounts(*(getattr(self, field.name) + getattr(other, field.name) for field in fields(self)))

    def as_fields(self) -> dict[str, int]:
        return {name: value for name in _PNL_FIELDS if (value := getattr(self, name))}

    @classmethod
    def from_fields(cls, stored: dict[str, Any]) -> PnlCounts:
        known = {field.name for field in fields(cls)}
        return cls(**{name: int(value) for name, value in stored.items() if name in known})


_PNL_FIELDS = tuple(field.name for field in fields(PnlCounts))


def event_pnl_counts(
    *, kind: str, metric: str | None, score: int | None, sentiment: str, reach: int, care_contact: bool
) -> PnlCounts:
    counts: dict[str, int] = {}
    if kind == "survey" and metric == "nps" and score is not None:
        group = "promoters" if score >= 9 else "detractors" if score <= 6 else "passives"
        counts[group] = 1
    if kind == "mention" and sentiment in {"positive", "negative"}:
        counts[f"{sentiment}_mentions"] = 1
        counts[f"{sentiment}_reach"] = reach
    if care_contact:
        counts["care_contacts"] = 1
    return PnlCounts(**counts)


@dataclass(frozen=True)
class PnlLine:
    name: str
    value: float
    formula: str
    inputs: dict[str, float]
    model_version: str
    basis: Literal["measured", "estimated"]


def pnl_lines(counts: PnlCounts, model: PnlModel) -> list[PnlLine]:
    value = model.value_of()
    churn = model.churn
    exposed_customers_positive = counts.positive_reach * model.customer_share_of_reach
    exposed_customers_negative = counts.negative_reach * model.customer_share_of_reach
    social_cost = model.cost_per_contact["social"]
    phone_cost = model.cost_per_contact["phone"]

    def line(name: str, amount: float, formula: str, inputs: dict[str, float], basis: str) -> PnlLine:
        return PnlLine(name, round(amount, 2), formula, inputs, model.version, basis)  # type: ignore[arg-type]

    lines = [
        line(
            "revenue_influenced_survey",
            counts.promoters * value * (churn.baseline - churn.promoter),
            "promoters × customer_value × (churn.baseline − churn.promoter)",
            {
                "promoters": counts.promoters,
                "customer_value": value,
                "churn.baseline": churn.baseline,
                "churn.promoter": churn.promoter,
            },
            "measured",
        ),
        line(
            "revenue_influenced_social",
            exposed_customers_positive * value * churn.per_positive_exposure,
            "positive_reach × customer_share_of_reach × customer_value × churn.per_positive_exposure",
            {
                "positive_reach": counts.positive_reach,
                "customer_share_of_reach": model.customer_share_of_reach,
                "customer_value": value,
                "churn.per_positive_exposure": churn.per_positive_exposure,
            },
            "estimated",
        ),
        line(
            "revenue_at_risk_survey",
            -(
                counts.detractors * value * (churn.detractor - churn.baseline)
                + counts.passives * value * (churn.passive - churn.baseline)
            ),
            "−(detractors × customer_value × (churn.detractor − churn.baseline)"
            " + passives × customer_value × (churn.passive − churn.baseline))",
            {
                "detractors": counts.detractors,
                "passives": counts.passives,
                "customer_value": value,
                "churn.detractor": churn.detractor,
                "churn.passive": churn.passive,
                "churn.baseline": churn.baseline,
            },
            "measured",
        ),
        line(
            "revenue_at_risk_social",
            -exposed_customers_negative * value * churn.per_negative_exposure,
            "−negative_reach × customer_share_of_reach × customer_value × churn.per_negative_exposure",
            {
                "negative_reach": counts.negative_reach,
                "customer_share_of_reach": model.customer_share_of_reach,
                "customer_value": value,
                "churn.per_negative_exposure": churn.per_negative_exposure,
            },
            "estimated",
        ),
        line(
            "service_cost",
            -counts.care_contacts * social_cost,
            "−care_contacts × cost_per_contact.social",
            {"care_contacts": counts.care_contacts, "cost_per_contact.social": social_cost},
            "measured",
        ),
        line(
            "deflection_savings",
            counts.care_contacts * model.social_deflection_rate * (phone_cost - social_cost),
            "care_contacts × social_deflection_rate × (cost_per_contact.phone − cost_per_contact.social)",
            {
                "care_contacts": counts.care_contacts,
                "social_deflection_rate": model.social_deflection_rate,
                "cost_per_contact.phone": phone_cost,
                "cost_per_contact.social": social_cost,
            },
            "estimated",
        ),
        line(
            "earned_media_value",
            counts.positive_reach / 1000 * model.cpm,
            "positive_reach ÷ 1000 × cpm",
            {"positive_reach": counts.positive_reach, "cpm": model.cpm},
            "estimated",
        ),
    ]
    total = sum(item.value for item in lines)
    lines.append(
        line(
            "net",
            total,
            " + ".join(item.name for item in lines),
            {item.name: item.value for item in lines},
            "estimated" if any(item.basis == "estimated" and item.value for item in lines) else "measured",
        )
    )
    return lines


def line_coefficients(model: PnlModel) -> dict[str, dict[str, float]]:
    """Every line is linear in the counts: its value per unit of each count, from `pnl_lines` itself.

    Lets the scorer state one event's contribution to each line with a few multiplications,
    while `pnl_lines` stays the one place where the formulas live.
    """
    coefficients: dict[str, dict[str, float]] = {}
    for name in _PNL_FIELDS:
        for line in pnl_lines(PnlCounts(**{name: 1}), model):
            if line.name != "net" and line.value:
                coefficients.setdefault(line.name, {})[name] = line.value
    return coefficients


def contributions(counts: PnlCounts, coefficients: dict[str, dict[str, float]]) -> dict[str, float]:
    present = counts.as_fields()
    values = {
        line: round(sum(per_unit[name] * amount for name, amount in present.items() if name in per_unit), 2)
        for line, per_unit in coefficients.items()
    }
    return {line: value for line, value in values.items() if value}


def period_days(period: Period, local_day: date) -> list[date]:
    """The local days of the period holding `local_day` (ISO weeks start on Monday)."""
    if period == "day":
        return [local_day]
    if period == "week":
        monday = local_day - timedelta(days=local_day.weekday())
        return [monday + timedelta(days=offset) for offset in range(7)]
    first = local_day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return [first + timedelta(days=offset) for offset in range((next_month - first).days)]


def local_day_of(moment: datetime, timezone: Any) -> date:
    return moment.astimezone(timezone).date()
