"""Schemathesis over the scorer's OpenAPI, the app wired to the real broker and Redis: never a 5xx,
every answer as documented, and no token means 401 problem+json on every operation.

The app gets a Redis database of its own, since generated erasures write to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from pydantic import SecretStr
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import negative_data_rejection

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_contracts import topics
from cxpulse_scorer.app import ScorerSettings, create_app
from cxpulse_shared.problem import PROBLEM_MEDIA_TYPE
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.badinput.support import CHECKS, fuzz, serving, use_database
from tests.support.scorer_fault import start_group_at_end

pytestmark = pytest.mark.integration
TOKEN = "badinput-scorer-operator-token-0123456789"
OPERATIONS_PATH_PREFIX = "/v1/"
SCORER_DATABASE = 12
# pydantic also reads `at` as Unix seconds (`at=1700000000`), a harmless leniency of a read-only
# parameter; everything else schemathesis checks still applies.
SCORER_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]
CONFIGURED_BRAND = "acme-air"


@pytest.fixture
def scorer_schema(broker: ManagedProcess, redis_server: ManagedProcess) -> Iterator[schemathesis.BaseSchema]:
    group_id = f"cx-scorer-badinput-{uuid.uuid4().hex[:8]}"
    start_group_at_end(KafkaSettings(bootstrap_servers=broker.address), group_id, topics.FEEDBACK)
    with use_database(redis_server.address, SCORER_DATABASE) as redis_url:
        app = create_app(
            ScorerSettings(
                group_id=group_id,
                min_responses=1,
                pseudonymisation_key=SecretStr("badinput-pseudonymisation-key"),
            ),
            kafka=KafkaSettings(bootstrap_servers=broker.address),
            redis_settings=RedisSettings(url=redis_url),  # type: ignore[arg-type]
            auth=ApiAuthSettings(api_token=SecretStr(TOKEN)),
        )
        with serving(app) as schema:
            yield schema


def takes_a_brand(operation: APIOperation) -> bool:
    return any(parameter.name == "brand" for parameter in operation.query)


def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(scorer_schema: schemathesis.BaseSchema) -> None:
    def send(case: schemathesis.Case) -> int:
        return case.call_and_validate(headers={"authorization": f"Bearer {TOKEN}"}, checks=SCORER_CHECKS).status_code

    # A generated brand is almost never configured: half the search uses one that is, so the cases
    # get past the 404 into the windows, periods and dates; the other half keeps the brand free.
    configured = fuzz(scorer_schema, send, only=takes_a_brand, query={"brand": CONFIGURED_BRAND})
    generated = fuzz(scorer_schema, send)
    print(configured.summary(), generated.summary(), sep="\n")
    assert configured.failures == {}, configured.summary()
    assert generated.failures == {}, generated.summary()
    assert all(200 in counts for counts in configured.statuses.values()), configured.summary()
    assert any(404 in counts for counts in generated.statuses.values()), generated.summary()


def test_without_a_token_every_api_operation_is_401_problem_json(scorer_schema: schemathesis.BaseSchema) -> None:
    def send(case: schemathesis.Case) -> int:
        response = case.call(headers={"authorization": "Bearer not-a-token"} if case.query else None)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"][0] == PROBLEM_MEDIA_TYPE
        return response.status_code

    # The token is what is under test: a generated customer id with a line break matches no route
    # (404 before any authentication), which says nothing about the token.
    report = fuzz(
        scorer_schema,
        send,
        examples=10,
        only=lambda operation: operation.path.startswith(OPERATIONS_PATH_PREFIX),
        path_parameters={"customer_id": "cust-1"},
    )
    print(report.summary())
    assert report.failures == {}, report.summary()
    assert report.cases > 0


def test_times_at_the_edges_of_the_calendar_are_422_not_500(scorer_schema: schemathesis.BaseSchema) -> None:
    """Found by the fuzzing above: a window or period reaching past year 1 or 9999 overflowed."""
    client = asgi.get_client(scorer_schema.app)
    headers = {"authorization": f"Bearer {TOKEN}"}
    for query in [
        "/v1/journey?at=0001-01-02T00:00:00Z",
        "/v1/satisfaction?window=30d&at=0001-01-31T00:00:00%2B13:00",
        "/v1/satisfaction?at=9999-12-31T23:59:59-12:00",
        "/v1/pnl?period=month&date=9999-12-20",
        "/v1/pnl?period=week&date=9999-12-31",
        "/v1/pnl?period=week&date=0001-01-01",
    ]:
        response = client.get(f"{query}&brand={CONFIGURED_BRAND}", headers=headers)
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
