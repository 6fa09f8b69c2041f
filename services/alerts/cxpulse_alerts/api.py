"""The incident and silence API. A team's token sees and acts on its own incidents only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cxpulse_alerts.adapters.store import ConcurrentUpdate, RedisAlertStore
from cxpulse_alerts.domain.incidents import (
    Change,
    ErasedEvidence,
    Incident,
    IncidentEngine,
    IncidentStateError,
    Silence,
    erase_author,
)
from cxpulse_contracts.erasure import MAX_CUSTOMER_CHARS, parse_author, validated_customer
from cxpulse_shared.auth import Caller, TokenAuthority
from cxpulse_shared.problem import Problem, problem_responses

SILENCE_LABELS = frozenset({"brand", "stage", "topic", "severity"})


@dataclass
class AlertsRuntime:
    store: RedisAlertStore
    engine: IncidentEngine
    authority: TokenAuthority
    publish_change: Callable[[Change], None]


async def runtime(request: Request) -> AlertsRuntime:
    state: AlertsRuntime = request.app.state.alerts
    return state


async def caller(request: Request, state: Annotated[AlertsRuntime, Depends(runtime)]) -> Caller:
    return state.authority.caller_for(request)


Runtime = Annotated[AlertsRuntime, Depends(runtime)]
Authenticated = Annotated[Caller, Depends(caller)]
router = APIRouter(
    prefix="/v1",
    tags=["incidents"],
    responses=problem_responses(
        {
            400: "The body is not readable as text",
            401: "Missing or unknown bearer token",
            403: "Not your team's incident, or operators only",
            404: "Unknown incident",
            409: "The incident cannot make this transition now",
            422: "Invalid parameters or body, with every error",
        }
    ),
)


def incident_body(incident: Incident) -> dict[str, Any]:
    body = asdict(incident)
    body["signals"] = list(body["signals"].values())
    body["routing"] = {
        "teams": list(incident.routing.teams),
        "receivers": list(incident.routing.receivers),
        "escalation_receivers": list(incident.routing.escalation_receivers),
        "group_wait_s": incident.routing.group_wait.total_seconds(),
        "group_interval_s": incident.routing.group_interval.total_seconds(),
        "repeat_interval_s": incident.routing.repeat_interval.total_seconds(),
    }
    return body


def visible_to(caller: Caller, incident: Incident) -> bool:
    return caller.is_operator or caller.team in incident.routing.teams


async def owned_incident(state: AlertsRuntime, caller: Caller, incident_id: str) -> Incident:
    incident = await asyncio.to_thread(state.store.get, incident_id)
    if incident is None:
        raise Problem(404, "unknown-incident", "Unknown incident", f"no incident {incident_id!r}")
    if not visible_to(caller, incident):
        raise Problem(
            403,
            "not-your-incident",
            "Not your team's incident",
            f"{incident_id} belongs to {', '.join(incident.routing.teams) or 'no team'}",
        )
    return incident


@router.get("/incidents", summary="Incidents your team owns (all of them for an operator), newest first")
async def list_incidents(
    state: Runtime,
    who: Authenticated,
    status: Literal["open", "acknowledged", "resolved", "active"] | None = None,
    brand: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    incidents = await asyncio.to_thread(state.store.recent, 2000)
    selected = [
        incident
        for incident in incidents
        if visible_to(who, incident)
        and (brand is None or incident.brand == brand)
        and (status is None or incident.status == status or (status == "active" and incident.active))
    ][:limit]
    return {"incidents": [incident_body(incident) for incident in selected]}


@router.get("/incidents/{incident_id}", summary="One incident with its evidence")
async def get_incident(state: Runtime, who: Authenticated, incident_id: str) -> dict[str, Any]:
    return incident_body(await owned_incident(state, who, incident_id))


async def transition(
    state: AlertsRuntime, who: Caller, incident_id: str, action: Literal["acknowledge", "resolve"]
) -> dict[str, Any]:
    for _attempt in range(5):
        incident = await owned_incident(state, who, incident_id)
        now = datetime.now(UTC)
        try:
            change = (state.engine.acknowledge if action == "acknowledge" else state.engine.resolve)(
                incident, actor=who.team, now=now
            )
        except IncidentStateError as error:
            raise Problem(409, "invalid-transition", "Invalid transition", str(error)) from None
        try:
            saved = await asyncio.to_thread(state.store.save, change.incident)
        except ConcurrentUpdate:
            continue
        await asyncio.to_thread(state.store.audit, actor=who.team, action=action, target=incident_id)
        await asyncio.to_thread(state.publish_change, Change(change.type, saved, who.team))
        return incident_body(saved)
    raise Problem(409, "concurrent-update", "Incident changed concurrently", "retry the request")


@router.post("/incidents/{incident_id}/ack", summary="Acknowledge: stops escalation; PagerDuty follows")
async def acknowledge(state: Runtime, who: Authenticated, incident_id: str) -> dict[str, Any]:
    return await transition(state, who, incident_id, "acknowledge")


@router.post("/incidents/{incident_id}/resolve", summary="Resolve: receivers get the resolution")
async def resolve(state: Runtime, who: Authenticated, incident_id: str) -> dict[str, Any]:
    return await transition(state, who, incident_id, "resolve")


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(min_length=1, description="label -> value; labels: brand, stage, topic, severity")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    comment: str = Field(min_length=1, max_length=1000)

    @field_validator("matchers")
    @classmethod
    def _known_labels(cls, matchers: dict[str, str]) -> dict[str, str]:
        unknown = set(matchers) - SILENCE_LABELS
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; use {sorted(SILENCE_LABELS)}")
        return matchers


@router.post("/silences", status_code=201, summary="Silence incidents matching labels for a time range")
async def create_silence(state: Runtime, who: Authenticated, request: SilenceRequest) -> dict[str, Any]:
    starts_at = request.starts_at or datetime.now(UTC)
    if request.ends_at <= starts_at:
        raise Problem(422, "invalid-silence", "Invalid silence", "ends_at must be after starts_at")
    if request.ends_at - starts_at > timedelta(days=30):
        raise Problem(422, "invalid-silence", "Invalid silence", "a silence lasts at most 30 days")
    silence = Silence(
        id=f"sil-{uuid.uuid4().hex[:12]}",
        matchers=request.matchers,
        starts_at=starts_at,
        ends_at=request.ends_at,
        created_by=who.team,
        comment=request.comment,
    )
    await asyncio.to_thread(state.store.add_silence, silence)
    await asyncio.to_thread(
        state.store.audit,
        actor=who.team,
        action="silence",
        target=silence.id,
        details=asdict(silence) | {"starts_at": silence.starts_at.isoformat(), "ends_at": silence.ends_at.isoformat()},
    )
    return asdict(silence)


@router.get("/silences", summary="Silences that have not ended")
async def list_silences(state: Runtime, _: Authenticated) -> dict[str, Any]:
    return {"silences": [asdict(silence) for silence in await asyncio.to_thread(state.store.silences)]}


@router.get("/audit", summary="Who acknowledged, resolved or silenced what, and configuration changes")
async def audit_log(
    state: Runtime, who: Authenticated, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    who.require_operator("the audit log")
    return {"entries": await asyncio.to_thread(state.store.audit_log, limit)}


def erase_author_evidence(store: RedisAlertStore, handle: str) -> dict[str, ErasedEvidence]:
    """Removes the author from every stored incident's evidence; returns what went, by incident."""
    erased: dict[str, ErasedEvidence] = {}
    for incident_id in store.incident_ids():
        for _attempt in range(5):
            incident = store.get(incident_id)
            if incident is None:
                break
            without, evidence = erase_author(incident, handle)
            if not evidence.any:
                break
            try:
                store.save(without)
            except ConcurrentUpdate:
                continue
            erased[incident_id] = evidence
            break
        else:
            raise Problem(409, "concurrent-update", "Incident changed concurrently", "retry the erasure")
    return erased


@router.delete(
    "/customers/{customer_id:path}",
    responses=problem_responses({403: "Not the operator token"}),
    summary="Erase an author (platform:handle) from every incident's evidence; audited",
    tags=["privacy"],
)
async def erase_customer(
    state: Runtime,
    who: Authenticated,
    customer_id: Annotated[str, Path(min_length=1, max_length=MAX_CUSTOMER_CHARS)],
) -> dict[str, Any]:
    who.require_operator("erasure")
    try:
        author = parse_author(validated_customer(customer_id))
    except ValueError as error:
        raise Problem(422, "invalid-customer", "Invalid customer id", str(error)) from None
    erased = await asyncio.to_thread(erase_author_evidence, state.store, author[1]) if author else {}
    # The audit names the erasure, never the person: the reference is what the requester files.
    reference = f"era-{uuid.uuid4().hex[:16]}"
    removed = {
        "samples": sum(item.samples for item in erased.values()),
        "signal_details": sum(item.signal_details for item in erased.values()),
    }
    await asyncio.to_thread(
        state.store.audit,
        actor=who.team,
        action="erase-customer",
        target=reference,
        details={"incidents": sorted(erased), **removed},
    )
    return {
        "reference": reference,
        "matched_as": ["author"] if author else [],
        "removed": removed,
        "incidents": sorted(erased),
    }
