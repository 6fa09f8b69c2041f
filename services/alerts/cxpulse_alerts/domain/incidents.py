"""Incidents: signals folded by brand and cause, with a lifecycle care teams can act on.

Pure code: the engine is given the time (`now`) and returns what changed, so the live service,
the backtest and the tests drive the same logic. Notifications are keyed by incident and
transition (trigger, update to severity N, escalation level, resolve), never by a counter, so
replaying a batch after a crash can never notify twice.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

IncidentStatus = Literal["open", "acknowledged", "resolved"]
ChangeType = Literal["opened", "updated", "escalated", "acknowledged", "resolved", "silenced"]
BRAND_WIDE = "*"


@dataclass(frozen=True)
class Signal:
    """One detector's finding for a brand, or a brand's stage or topic, at an event time."""

    detector: str
    brand: str
    score: float
    at: datetime
    stage: str | None = None
    topic: str | None = None
    observed: float | None = None
    baseline: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """Brand-wide signals inhibit their brand's per-stage and per-topic ones."""
        if self.stage:
            return f"stage:{self.stage}"
        if self.topic:
            return f"topic:{self.topic}"
        return BRAND_WIDE

    @property
    def key(self) -> str:
        return f"{self.detector}@{self.scope}"


@dataclass(frozen=True)
class SampleMention:
    text: str
    url: str
    author: str
    reach: int


@dataclass(frozen=True)
class Routing:
    teams: tuple[str, ...]
    receivers: tuple[str, ...]
    escalation_receivers: tuple[str, ...] = ()
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    acknowledge_within: timedelta | None = timedelta(minutes=15)


@dataclass(frozen=True)
class Incident:
    id: str
    brand: str
    fingerprint: str
    status: IncidentStatus
    severity: int
    crisis_risk: float
    opened_at: datetime
    updated_at: datetime
    last_signal_at: datetime
    signals: Mapping[str, Signal]
    routing: Routing
    stages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    samples: tuple[SampleMention, ...] = ()
    top_terms: tuple[str, ...] = ()
    total_reach: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    escalation_level: int = 0
    notified: tuple[str, ...] = ()
    last_notified_at: datetime | None = None
    notified_severity: int = 0
    silenced_by: str | None = None
    version: int = 0
    traceparent: str | None = None
    reach_counted_through: Mapping[int, int] = field(default_factory=dict)
    """Per partition, the offset of the last scored record whose reach `total_reach` holds."""

    @property
    def active(self) -> bool:
        return self.status != "resolved"

    def labels(self) -> dict[str, Any]:
        """What ownership routes and silences match on."""
        return {
            "brand": self.brand,
            "severity": self.severity,
            "stage": list(self.stages),
            "topic": list(self.topics),
        }


@dataclass(frozen=True)
class NotificationIntent:
    """A notification the engine wants sent; the key makes re-emission harmless."""

    incident_id: str
    action: Literal["trigger", "update", "escalate", "acknowledge", "resolve"]
    key: str
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    type: ChangeType
    incident: Incident
    actor: str | None = None


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def covers(self, incident: Incident, now: datetime) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        labels = incident.labels()
        for name, wanted in self.matchers.items():
            value = labels.get(name)
            values = [str(item) for item in value] if isinstance(value, list) else [str(value)]
            if wanted not in values:
                return False
        return True


@dataclass(frozen=True)
class EngineSettings:
    open_threshold: float = 0.5
    resolve_after: timedelta = timedelta(minutes=30)
    max_samples: int = 5
    max_terms: int = 10


# Evidence families and how much each says about a crisis (as opposed to one customer's issue).
# An influencer's complaint and the same post going viral are one piece of evidence, not two.
DETECTOR_FAMILIES: Mapping[str, str] = {"influencer_detractor": "single_post", "viral_complaint": "single_post"}
FAMILY_WEIGHTS: Mapping[str, float] = {
    "volume_spike": 1.0,
    "swing_to_negative": 1.0,
    "velocity": 0.8,
    "stage_satisfaction_drop": 0.8,
    "topic_burst": 0.6,
    "single_post": 0.6,
}


def crisis_risk(signals: Iterable[Signal]) -> float:
    """Independent families of evidence compound, 1 − Π(1 − weight × strongest score); repeated
    findings of one family (the same detector on several stages) count once, at their strongest."""
    strongest: dict[str, float] = {}
    for signal in signals:
        family = DETECTOR_FAMILIES.get(signal.detector, signal.detector)
        strongest[family] = max(strongest.get(family, 0.0), min(max(signal.score, 0.0), 0.999))
    remaining = 1.0
    for family, score in strongest.items():
        remaining *= 1.0 - FAMILY_WEIGHTS.get(family, 1.0) * score
    return round(1.0 - remaining, 4)


def severity_for(risk: float) -> int:
    """1 (lowest) to 5, in equal steps of crisis risk."""
    return max(1, min(5, 1 + math.floor(risk * 5)))


def incident_id_for(brand: str, scope: str, opened_at: datetime) -> str:
    digest = hashlib.sha256(f"{brand}|{scope}|{opened_at.isoformat()}".encode()).hexdigest()[:10]
    return f"inc-{brand}-{opened_at:%Y%m%d%H%M}-{digest}"


class IncidentEngine:
    """Folds signals into incidents and advances their timers; holds no I/O."""

    def __init__(
        self,
        *,
        route: Callable[[Mapping[str, Any]], Routing],
        settings: EngineSettings | None = None,
    ) -> None:
        self._route = route
        self.settings = settings or EngineSettings()

    def fold(
        self,
        incidents: Mapping[str, Incident],
        signals: Sequence[Signal],
        *,
        now: datetime,
        samples: Sequence[SampleMention] = (),
        top_terms: Sequence[str] = (),
        reach: int = 0,
        traceparent: str | None = None,
    ) -> list[Change]:
        """Signals of one brand; `incidents` holds that brand's active incidents by fingerprint.

        `traceparent` is the trace of the feedback that tipped the signals: an incident opened by
        them continues that trace, so one trace runs from the webhook to the notification."""
        strong = [signal for signal in signals if signal.score >= self.settings.open_threshold]
        if not strong:
            return []
        brand = strong[0].brand
        fingerprint = f"{brand}:crisis"
        current = incidents.get(fingerprint)
        if current is None or not current.active:
            return [self._open(brand, fingerprint, strong, now, samples, top_terms, reach, traceparent)]
        merged = dict(current.signals)
        for signal in strong:
            merged[signal.key] = signal
        updated = self._with_evidence(
            replace(current, signals=merged, updated_at=now, last_signal_at=now),
            samples,
            top_terms,
            reach,
        )
        return [Change("updated", updated)] if updated != current else []

    def _open(
        self,
        brand: str,
        fingerprint: str,
        signals: Sequence[Signal],
        now: datetime,
        samples: Sequence[SampleMention],
        top_terms: Sequence[str],
        reach: int,
        traceparent: str | None,
    ) -> Change:
        opened_at = min(signal.at for signal in signals)
        scope = BRAND_WIDE
        incident = Incident(
            id=incident_id_for(brand, scope, opened_at),
            brand=brand,
            fingerprint=fingerprint,
            status="open",
            severity=1,
            crisis_risk=0.0,
            opened_at=now,
            updated_at=now,
            last_signal_at=now,
            signals={signal.key: signal for signal in signals},
            routing=Routing(teams=(), receivers=()),
            traceparent=traceparent,
        )
        return Change("opened", self._with_evidence(incident, samples, top_terms, reach))

    def _with_evidence(
        self, incident: Incident, samples: Sequence[SampleMention], top_terms: Sequence[str], reach: int
    ) -> Incident:
        signals = list(incident.signals.values())
        stages = tuple(sorted({signal.stage for signal in signals if signal.stage} | set(incident.stages)))
        topics = tuple(sorted({signal.topic for signal in signals if signal.topic} | set(incident.topics)))
        merged_samples = sorted(
            {sample.url: sample for sample in (*incident.samples, *samples)}.values(),
            key=lambda sample: -sample.reach,
        )[: self.settings.max_samples]
        terms = tuple(dict.fromkeys((*top_terms, *incident.top_terms)))[: self.settings.max_terms]
        total_reach = incident.total_reach + reach
        risk = crisis_risk(self._effective(signals))
        severity = max(incident.severity if incident.active else 1, severity_for(risk))
        with_evidence = replace(
            incident,
            stages=stages,
            topics=topics,
            samples=tuple(merged_samples),
            top_terms=terms,
            total_reach=total_reach,
            crisis_risk=risk,
            severity=severity,
        )
        return replace(with_evidence, routing=self._route(with_evidence.labels()))

    @staticmethod
    def _effective(signals: Sequence[Signal]) -> list[Signal]:
        """Inhibition: with a brand-wide finding of a detector, its per-stage twins add no risk."""
        brand_wide = {signal.detector for signal in signals if signal.scope == BRAND_WIDE}
        return [s for s in signals if s.scope == BRAND_WIDE or s.detector not in brand_wide]

    def acknowledge(self, incident: Incident, *, actor: str, now: datetime) -> Change:
        if incident.status != "open":
            raise IncidentStateError(f"{incident.id} is {incident.status}; only an open incident can be acknowledged")
        return Change(
            "acknowledged",
            replace(incident, status="acknowledged", acknowledged_at=now, acknowledged_by=actor, updated_at=now),
            actor,
        )

    def resolve(self, incident: Incident, *, actor: str, now: datetime) -> Change:
        if incident.status == "resolved":
            raise IncidentStateError(f"{incident.id} is already resolved")
        return Change(
            "resolved",
            replace(incident, status="resolved", resolved_at=now, resolved_by=actor, updated_at=now),
            actor,
        )

    def tick(self, incident: Incident, *, now: datetime, silences: Sequence[Silence]) -> list[Change]:
        """Timers: auto-resolve when quiet, escalate when unacknowledged, mark silenced."""
        if not incident.active:
            return []
        if now - incident.last_signal_at >= self.settings.resolve_after:
            return [
                Change(
                    "resolved",
                    replace(incident, status="resolved", resolved_at=now, resolved_by="auto", updated_at=now),
                    "auto",
                )
            ]
        changes: list[Change] = []
        silence = next((item for item in silences if item.covers(incident, now)), None)
        silenced_by = silence.id if silence else None
        if silenced_by != incident.silenced_by:
            incident = replace(incident, silenced_by=silenced_by, updated_at=now)
            changes.append(Change("silenced" if silenced_by else "updated", incident))
        deadline = incident.routing.acknowledge_within
        if (
            incident.status == "open"
            and deadline is not None
            and incident.escalation_level == 0
            and now - incident.opened_at >= deadline
        ):
            escalated = replace(incident, escalation_level=1, severity=min(5, incident.severity + 1), updated_at=now)
            changes.append(Change("escalated", escalated))
        return changes

    def due_notifications(self, incident: Incident, *, now: datetime) -> tuple[Incident, list[NotificationIntent]]:
        """Alertmanager timing: first after group_wait, changes after group_interval, repeats after
        repeat_interval; silenced incidents stay quiet except for their resolution."""
        routing = incident.routing
        intents: list[NotificationIntent] = []
        sent = set(incident.notified)

        def want(
            action: Literal["trigger", "update", "escalate", "acknowledge", "resolve"],
            key: str,
            receivers: tuple[str, ...],
        ) -> None:
            if key not in sent and receivers:
                intents.append(NotificationIntent(incident.id, action, f"{incident.id}:{key}", receivers))
                sent.add(key)

        triggered = "trigger" in sent
        if incident.status == "resolved":
            if triggered:
                want("resolve", "resolve", routing.receivers)
        elif incident.silenced_by is None:
            if not triggered and now - incident.opened_at >= routing.group_wait:
                want("trigger", "trigger", routing.receivers)
            elif triggered and incident.last_notified_at is not None:
                since = now - incident.last_notified_at
                if incident.severity > incident.notified_severity and since >= routing.group_interval:
                    want("update", f"update:severity-{incident.severity}", routing.receivers)
                elif since >= routing.repeat_interval:
                    repeats = int((now - incident.opened_at) / routing.repeat_interval)
                    want("update", f"repeat:{repeats}", routing.receivers)
            if incident.escalation_level and triggered:
                want(
                    "escalate",
                    f"escalate:{incident.escalation_level}",
                    routing.escalation_receivers or routing.receivers,
                )
            if incident.status == "acknowledged" and triggered:
                want("acknowledge", "acknowledge", routing.receivers)
        if not intents:
            return incident, []
        notified_severity = (
            incident.severity
            if any(i.action in {"trigger", "update"} for i in intents)
            else (incident.notified_severity)
        )
        return (
            replace(
                incident,
                notified=tuple(sorted(sent)),
                last_notified_at=now,
                notified_severity=notified_severity,
            ),
            intents,
        )


class IncidentStateError(ValueError):
    pass


# Signal details that identify a mention's author: the handle itself and the post's address.
IDENTIFYING_DETAILS = ("author", "url")


@dataclass(frozen=True)
class ErasedEvidence:
    samples: int = 0
    signal_details: int = 0

    @property
    def any(self) -> bool:
        return bool(self.samples or self.signal_details)


def erase_author(incident: Incident, handle: str) -> tuple[Incident, ErasedEvidence]:
    """The incident without the author's sample mentions and without the details naming them or
    their posts. Samples carry no platform, so the handle is matched on every platform: erasing a
    namesake's sample too costs a little evidence, keeping the author's would keep personal data."""
    wanted = handle.lower()
    kept = tuple(sample for sample in incident.samples if sample.author.lower() != wanted)
    erased_urls = {sample.url for sample in incident.samples if sample.author.lower() == wanted} | {
        str(signal.details.get("url"))
        for signal in incident.signals.values()
        if str(signal.details.get("author", "")).lower() == wanted and "url" in signal.details
    }
    signals: dict[str, Signal] = {}
    scrubbed = 0
    for key, signal in incident.signals.items():
        if str(signal.details.get("author", "")).lower() == wanted or signal.details.get("url") in erased_urls:
            details = {name: value for name, value in signal.details.items() if name not in IDENTIFYING_DETAILS}
            signal = replace(signal, details=details)
            scrubbed += 1
        signals[key] = signal
    erased = ErasedEvidence(samples=len(incident.samples) - len(kept), signal_details=scrubbed)
    if not erased.any:
        return incident, erased
    return replace(incident, samples=kept, signals=signals), erased
