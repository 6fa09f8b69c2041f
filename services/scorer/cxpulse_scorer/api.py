"""The scorer's read API: journey table, satisfaction, P&L, drivers and top customers."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, Field

from cxpulse_contracts.erasure import MAX_CUSTOMER_CHARS, PseudonymisationKeyMissing, erasure_target
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.brands import Brand, BrandCatalog
from cxpulse_scorer.domain.drivers import key_drivers
from cxpulse_scorer.domain.pnl import Period, period_days, pnl_lines
from cxpulse_scorer.domain.satisfaction import ALL_STAGES, WINDOWS, SatisfactionCounts, figures
from cxpulse_shared.auth import Caller, TokenAuthority
from cxpulse_shared.problem import Problem, problem_responses

Window = Literal["1h", "24h", "7d", "30d"]
# Windows and periods around these stay inside the years `datetime` can hold (a 30-day window
# before 0001-01-02 does not).
EventTime = Annotated[AwareDatetime, Field(ge=datetime(1970, 1, 1, tzinfo=UTC), le=datetime(9999, 1, 1, tzinfo=UTC))]
EventDay = Annotated[date, Field(ge=date(1970, 1, 1), le=date(9999, 1, 1))]
BrandSlug = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="brand slug")]
StageSlug = Annotated[
    str | None, Query(pattern=r"^[a-z0-9_][a-z0-9_-]{0,63}$", description="stage; brand-wide if omitted")
]


@dataclass
class ScorerRuntime:
    brands: BrandCatalog
    aggregates: RedisAggregates
    authority: TokenAuthority
    min_responses: int
    stage_order: dict[str, list[str]]
    pseudonymisation_key: bytes | None = None


async def runtime(request: Request) -> ScorerRuntime:
    state: ScorerRuntime = request.app.state.scorer
    return state


async def caller(request: Request, state: Annotated[ScorerRuntime, Depends(runtime)]) -> Caller:
    return state.authority.caller_for(request)


Runtime = Annotated[ScorerRuntime, Depends(runtime)]
Authenticated = Annotated[Caller, Depends(caller)]
router = APIRouter(
    prefix="/v1",
    tags=["satisfaction"],
    responses=problem_responses(
        {401: "Missing or unknown bearer token", 404: "Unknown brand", 422: "Invalid parameters, with every error"}
    ),
)


async def known_brand(state: ScorerRuntime, slug: str) -> Brand:
    brand = state.brands.get(slug)
    if not brand.configured and slug not in await asyncio.to_thread(state.aggregates.brands):
        raise Problem(404, "unknown-brand", "Unknown brand", f"no brand {slug!r} is configured or has data")
    return brand


def satisfaction_body(
    state: ScorerRuntime, brand: str, stage: str | None, window: str, at: datetime, counts: SatisfactionCounts
) -> dict[str, Any]:
    derived = asdict(figures(counts, min_responses=state.min_responses))
    return {"brand": brand, "stage": stage, "window": window, "at": at.isoformat(), **derived}


def share_of_voice(state: ScorerRuntime, brand: Brand, at: datetime, window: timedelta) -> float | None:
    if not brand.competitors:
        return None
    mentions = {
        slug: state.aggregates.satisfaction(slug, ALL_STAGES, at=at, window=window).mentions
        for slug in (brand.slug, *brand.competitors)
    }
    total = sum(mentions.values())
    return round(100.0 * mentions[brand.slug] / total, 2) if total else None


@router.get("/satisfaction", summary="Satisfaction of a brand (or one stage) over an event-time window")
async def get_satisfaction(
    state: Runtime,
    _: Authenticated,
    brand: BrandSlug,
    stage: StageSlug = None,
    window: Window = "24h",
    at: EventTime | None = None,
) -> dict[str, Any]:
    known = await known_brand(state, brand)
    moment = at or datetime.now(UTC)
    span = WINDOWS[window]
    counts = await asyncio.to_thread(state.aggregates.satisfaction, brand, stage or ALL_STAGES, at=moment, window=span)
    body = satisfaction_body(state, brand, stage, window, moment, counts)
    body["share_of_voice"] = await asyncio.to_thread(share_of_voice, state, known, moment, span)
    return body


@router.get("/journey", summary="The journey table: satisfaction of every stage of a brand")
async def get_journey(
    state: Runtime,
    _: Authenticated,
    brand: BrandSlug,
    window: Window = "30d",
    at: EventTime | None = None,
) -> dict[str, Any]:
    known = await known_brand(state, brand)
    moment = at or datetime.now(UTC)
    taxonomy_stages = state.stage_order.get(known.taxonomy, [])
    seen = await asyncio.to_thread(state.aggregates.stages, brand)
    stages = taxonomy_stages + sorted(set(seen) - set(taxonomy_stages))
    counts = await asyncio.to_thread(
        state.aggregates.satisfaction_many, brand, [*stages, ALL_STAGES], at=moment, window=WINDOWS[window]
    )
    unmapped = await asyncio.to_thread(state.aggregates.unmapped, brand)
    return {
        "brand": brand,
        "window": window,
        "at": moment.isoformat(),
        "taxonomy": known.taxonomy,
        "stages": [
            {
                **satisfaction_body(state, brand, stage, window, moment, counts[stage]),
                "in_taxonomy": stage in taxonomy_stages,
            }
            for stage in stages
        ],
        "overall": satisfaction_body(state, brand, None, window, moment, counts[ALL_STAGES]),
        "unmapped_stages": unmapped,
    }


@router.get("/pnl", summary="The social P&L of a brand for a day, week or month in its timezone")
async def get_pnl(
    state: Runtime,
    _: Authenticated,
    brand: BrandSlug,
    period: Period = "day",
    day: Annotated[EventDay | None, Query(alias="date", description="a day in the period; default today")] = None,
) -> dict[str, Any]:
    known = await known_brand(state, brand)
    local_day = day or datetime.now(known.timezone).date()
    days = period_days(period, local_day)
    counts = await asyncio.to_thread(state.aggregates.pnl_counts, brand, days)
    lines = pnl_lines(counts, known.pnl)
    return {
        "brand": brand,
        "period": period,
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "timezone": known.timezone.key,
        "currency": known.currency,
        "model_version": known.pnl.version,
        "counts": asdict(counts),
        "lines": [asdict(line) for line in lines],
        "net": lines[-1].value,
    }


@router.get("/drivers", summary="Topics that move a stage's sentiment, with effect size and significance")
async def get_drivers(
    state: Runtime,
    _: Authenticated,
    brand: BrandSlug,
    stage: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    days: Annotated[int, Query(ge=1, le=40)] = 30,
) -> dict[str, Any]:
    known = await known_brand(state, brand)
    today = datetime.now(known.timezone).date()
    span = [today - timedelta(days=offset) for offset in range(days)]
    sums = await asyncio.to_thread(state.aggregates.driver_sums, brand, stage, span)
    return {
        "brand": brand,
        "stage": stage,
        "days": days,
        "drivers": [asdict(item) for item in key_drivers(sums)],
    }


@router.get("/customers/top", summary="Customers by network value: their own value plus the reach they carry")
async def get_top_customers(
    state: Runtime, _: Authenticated, brand: BrandSlug, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> dict[str, Any]:
    known = await known_brand(state, brand)
    model = known.pnl
    ranked = await asyncio.to_thread(state.aggregates.top_customers, brand, limit)
    value = model.value_of()
    per_reach = model.customer_share_of_reach * value * model.churn.per_positive_exposure
    return {
        "brand": brand,
        "currency": known.currency,
        "model_version": model.version,
        "formula": "customer_value + reach × customer_share_of_reach × customer_value × churn.per_positive_exposure",
        "customers": [
            {
                "customer": customer,
                "reach": reach,
                "customer_value": value,
                "network_value": round(value + reach * per_reach, 2),
            }
            for customer, reach in ranked
        ],
    }


@router.delete(
    "/customers/{customer_id:path}",
    responses=problem_responses(
        {403: "Not the operator token", 503: "A raw customer id, and no pseudonymisation key configured"}
    ),
    summary="Erase a customer (raw customer id, pseudonym or platform:handle) from the customer rankings",
    tags=["privacy"],
)
async def erase_customer(
    state: Runtime,
    who: Authenticated,
    customer_id: Annotated[str, Path(min_length=1, max_length=MAX_CUSTOMER_CHARS)],
) -> dict[str, Any]:
    who.require_operator("erasure")
    try:
        target = erasure_target(customer_id, pseudonymisation_key=state.pseudonymisation_key)
    except PseudonymisationKeyMissing as error:
        raise Problem(503, "erasure-unavailable", "Erasure unavailable", str(error)) from None
    except ValueError as error:
        raise Problem(422, "invalid-customer", "Invalid customer id", str(error)) from None
    removed = await asyncio.to_thread(state.aggregates.erase_customer, target.identifiers)
    return {
        "removed": {"customer_reach": sum(removed.values())},
        "brands": sorted(removed),
        "matched_as": list(target.readings),
    }
