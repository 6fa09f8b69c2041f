"""The metrics registry (`deploy/metrics.yaml`) matches what the running services export.

Dashboards and alert rules are checked against the registry (tests/deploy); this closes the loop:
every registered metric is exported by its service with the registered type and labels.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from cxpulse_alerts.app import AlertsSettings
from cxpulse_alerts.app import create_app as create_alerts
from cxpulse_collector.app import create_app as create_collector
from cxpulse_scorer.app import ScorerSettings
from cxpulse_scorer.app import create_app as create_scorer
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.support.collector import channel, collector_settings

pytestmark = pytest.mark.integration
REGISTRY = Path(__file__).resolve().parents[2] / "deploy" / "metrics.yaml"


@pytest.fixture
def services(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings, webhook_secret: str
) -> Iterator[dict[str, TestClient]]:
    auth = ApiAuthSettings(api_token=SecretStr("metrics-test-operator-token"))
    suffix = uuid.uuid4().hex[:8]
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(
        f'receivers: [{{name: sink, type: log, path: "{tmp_path}/n.ndjson"}}]\n'
        "teams: [{name: care, receivers: [sink]}]\nroute: {team: care}\n"
    )
    apps = {
        "collector": create_collector(
            collector_settings(),
            channels={"c": channel("c", webhook_secret)},
            kafka=kafka_settings,
            redis_settings=redis_settings,
        ),
        "scorer": create_scorer(
            ScorerSettings(group_id=f"cx-scorer-metrics-{suffix}"),
            kafka=kafka_settings,
            redis_settings=redis_settings,
            auth=auth,
        ),
        "alerts": create_alerts(
            AlertsSettings(ownership_file=ownership, group_id=f"cx-alerts-metrics-{suffix}"),
            kafka=kafka_settings,
            redis_settings=redis_settings,
            auth=auth,
            environ={},
        ),
    }
    clients = {name: TestClient(app) for name, app in apps.items()}
    for client in clients.values():
        client.__enter__()
    try:
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def exported(client: TestClient) -> dict[str, tuple[str, set[str]]]:
    """Exposition name -> (type, label names seen) from one /metrics scrape."""
    client.get("/healthz")
    found: dict[str, tuple[str, set[str]]] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels = {label for sample in family.samples for label in sample.labels if label not in {"le", "quantile"}}
        found[name] = (family.type, labels)
    return found


def test_every_registered_metric_is_exported_by_its_service(services: dict[str, TestClient]) -> None:
    registry = yaml.safe_load(REGISTRY.read_text())["metrics"]
    scraped = {name: exported(client) for name, client in services.items()}
    missing, wrong = [], []
    for metric, spec in registry.items():
        owners = spec["service"] if isinstance(spec["service"], list) else [spec["service"]]
        for service in owners:
            found = scraped[service].get(metric)
            if found is None:
                missing.append(f"{metric} ({service})")
                continue
            kind, labels = found
            if kind != spec["type"] or not labels <= set(spec.get("labels", [])):
                wrong.append(
                    f"{metric} ({service}): exported {kind} {sorted(labels)}, "
                    f"registered {spec['type']} {spec.get('labels')}"
                )
    assert missing == [], f"registered but not exported: {missing}"
    assert wrong == []
