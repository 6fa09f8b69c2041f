"""Schemathesis over the alerts API, the app wired to the real broker and Redis: never a 5xx, every
answer as documented, and no token means 401 problem+json on every operation.

The app gets a Redis database of its own: generated silences and audit entries must not show up
in what other tests of the session list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from pydantic import SecretStr

from cxpulse_alerts.adapters.store import RedisAlertStore
from cxpulse_alerts.app import AlertsSettings, create_app
from cxpulse_alerts.domain.incidents import Incident
from cxpulse_cli.localstack import ManagedProcess
from cxpulse_contracts import topics
from cxpulse_shared.problem import PROBLEM_MEDIA_TYPE
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.badinput.support import CHECKS, FuzzReport, fuzz, serving, use_database
from tests.support.alerts import care_ownership_file, stored_incident
from tests.support.scorer_fault import start_group_at_end

pytestmark = pytest.mark.integration
OPERATOR, CARE = "badinput-alerts-operator-token-0123", "badinput-alerts-care-token-0123"
ALERTS_DATABASE = 13


def open_incident(store: RedisAlertStore) -> Incident:
    return stored_incident(store, brand_prefix="fuzz")


def body_unreadable(problem: dict[str, Any]) -> bool:
    """FastAPI reads a declared JSON body before it runs the route's dependencies, so a body that is
    not JSON at all is refused before the token is looked at (and tells the caller nothing)."""
    not_json = any(error["detail"] == "JSON decode error" for error in problem.get("errors", []))
    return problem["status"] == 400 or (problem["status"] == 422 and not_json)


@pytest.fixture
def alerts_schema(
    tmp_path: Path, broker: ManagedProcess, redis_server: ManagedProcess
) -> Iterator[tuple[schemathesis.BaseSchema, Incident]]:
    ownership = care_ownership_file(tmp_path)
    group_id = f"cx-alerts-badinput-{uuid.uuid4().hex[:8]}"
    start_group_at_end(KafkaSettings(bootstrap_servers=broker.address), group_id, topics.SCORED)
    with use_database(redis_server.address, ALERTS_DATABASE) as redis_url:
        incident = open_incident(RedisAlertStore(redis.Redis.from_url(redis_url)))
        app = create_app(
            AlertsSettings(ownership_file=ownership, group_id=group_id),
            kafka=KafkaSettings(bootstrap_servers=broker.address),
            redis_settings=RedisSettings(url=redis_url),  # type: ignore[arg-type]
            auth=ApiAuthSettings(api_token=SecretStr(OPERATOR), team_tokens={"care": SecretStr(CARE)}),
            environ={},
        )
        with serving(app) as schema:
            yield schema, incident


def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(
    alerts_schema: tuple[schemathesis.BaseSchema, Incident],
) -> None:
    schema, incident = alerts_schema

    calls = iter(range(1_000_000))

    def send(case: schemathesis.Case) -> int:
        # Every other case as the owning team, the rest as the operator: both roles' code paths run.
        token = CARE if next(calls) % 2 else OPERATOR
        return case.call_and_validate(headers={"authorization": f"Bearer {token}"}, checks=CHECKS).status_code

    on_the_incident = fuzz(
        schema,
        send,
        only=lambda operation: "{incident_id}" in operation.path,
        path_parameters={"incident_id": incident.id},
    )
    everything = fuzz(schema, send)
    report = FuzzReport({**everything.statuses, **{f"{k} (seeded)": v for k, v in on_the_incident.statuses.items()}})
    print(report.summary())
    assert on_the_incident.failures == {}, on_the_incident.summary()
    assert everything.failures == {}, everything.summary()
    seeded = on_the_incident.statuses
    assert 200 in seeded["GET /v1/incidents/{incident_id}"], on_the_incident.summary()
    assert 200 in seeded["POST /v1/incidents/{incident_id}/ack"], on_the_incident.summary()
    assert 200 in seeded["POST /v1/incidents/{incident_id}/resolve"], on_the_incident.summary()


def test_without_a_token_every_api_operation_is_401_problem_json(
    alerts_schema: tuple[schemathesis.BaseSchema, Incident],
) -> None:
    schema, _ = alerts_schema

    def send(case: schemathesis.Case) -> int:
        response = case.call(headers={"authorization": "Bearer not-a-token"} if case.query else None)
        assert response.status_code == 401 or body_unreadable(response.json()), response.text
        assert response.headers["content-type"][0] == PROBLEM_MEDIA_TYPE
        return response.status_code

    # The token is what is under test: a generated id with a line break matches no route (404
    # before any authentication), which says nothing about the token.
    report = fuzz(
        schema,
        send,
        examples=10,
        only=lambda operation: operation.path.startswith("/v1/"),
        path_parameters={"customer_id": "cust-1", "incident_id": "inc-1"},
    )
    print(report.summary())
    assert report.failures == {}, report.summary()
    assert report.cases > 0
