"""Alerts test set-up shared by the API, erasure and fuzz tests: an ownership file and stored incidents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxpulse_alerts.adapters.store import RedisAlertStore
from cxpulse_alerts.domain.incidents import Incident, Routing, Signal


def care_ownership_file(directory: Path, *, teams: Sequence[str] = ("care",)) -> Path:
    """Every team on one local log receiver, everything routed to `care`."""
    team_lines = "\n".join(f"  - {{name: {team}, receivers: [care-log]}}" for team in teams)
    ownership = directory / "ownership.yaml"
    ownership.write_text(
        f"""
receivers:
  - {{name: care-log, type: log, path: "{directory}/care.ndjson"}}
teams:
{team_lines}
route: {{team: care}}
"""
    )
    return ownership


def stored_incident(
    store: RedisAlertStore, *, brand_prefix: str, signals: Sequence[Signal] = (), **fields: Any
) -> Incident:
    """An open incident of a new brand, owned by `care`; a volume spike unless `signals` are given
    (build them with `incident_brand` first, so they name the same brand)."""
    now = datetime.now(UTC)
    brand = signals[0].brand if signals else f"{brand_prefix}-{uuid.uuid4().hex[:8]}"
    signals = signals or [Signal(detector="volume_spike", brand=brand, score=0.8, at=now)]
    values: dict[str, Any] = {
        "id": f"inc-{brand}",
        "brand": brand,
        "fingerprint": f"{brand}:crisis",
        "status": "open",
        "severity": 3,
        "crisis_risk": 0.8,
        "opened_at": now,
        "updated_at": now,
        "last_signal_at": now,
        "signals": {signal.key: signal for signal in signals},
        "routing": Routing(teams=("care",), receivers=("care-log",)),
    }
    return store.save(Incident(**(values | fields)))


def incident_brand(brand_prefix: str) -> str:
    return f"{brand_prefix}-{uuid.uuid4().hex[:8]}"
