"""Our Alertmanager receiver against Debian's real Alertmanager (apt package `prometheus-alertmanager`).

Posts through the outbox and the delivery worker, then reads the alert back with `GET /api/v2/alerts`.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import HttpUrl

from cxpulse_alerts.receivers.config import AlertmanagerReceiver
from cxpulse_alerts.receivers.delivery import ReceiverPacer, RetryPolicy, Sender
from cxpulse_alerts.receivers.outbox import DeliveryWorker, Outbox
from cxpulse_cli.localstack import LOOPBACK, ManagedProcess, free_port, spawn, wait_for_port
from cxpulse_shared.redis import make_redis
from cxpulse_shared.settings import RedisSettings
from tests.support.http_receiver import sample_notification

pytestmark = pytest.mark.integration

DEBIAN_BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: blackhole
  group_by: [incident]
receivers:
  - name: blackhole
"""


def alertmanager_binary() -> str | None:
    found = shutil.which("prometheus-alertmanager")
    if found:
        return found
    return DEBIAN_BINARY if Path(DEBIAN_BINARY).is_file() else None


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip("Alertmanager not installed: `apt-get install prometheus-alertmanager` provides it")
    workdir = tmp_path_factory.mktemp("alertmanager")
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    process: ManagedProcess = spawn(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
        ],
        log_dir=workdir / "logs",
        address=f"http://{LOOPBACK}:{port}",
    )
    try:
        wait_for_port(LOOPBACK, port, timeout_s=30, process=process)
        deadline = time.monotonic() + 30
        while httpx.get(f"{process.address}/-/ready", timeout=2).status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"Alertmanager not ready; see {process.log}")
            time.sleep(0.1)
        yield process.address
    finally:
        process.stop()


@pytest.fixture
def client(redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    client = make_redis(redis_settings)
    yield client
    client.close()


@pytest.fixture
def outbox_and_worker(client: redis.Redis, alertmanager: str) -> Iterator[Outbox]:
    prefix = f"cx:{{am-test-{uuid.uuid4().hex[:8]}}}:"
    receiver = AlertmanagerReceiver(name="am", type="alertmanager", url=HttpUrl(alertmanager))
    worker = DeliveryWorker(
        Outbox(client, prefix=prefix),
        [receiver],
        pacer=ReceiverPacer(client, prefix=prefix + "pace:"),
        registry=CollectorRegistry(),
        sender=Sender(policy=RetryPolicy(base_delay_s=0.05, max_delay_s=0.5), timeout_s=2.0),
        lease_s=10.0,
    )
    worker.start()
    yield Outbox(client, prefix=prefix)
    worker.stop()


def alerts_for(alertmanager: str, incident: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{alertmanager}/api/v2/alerts", params={"filter": f'incident="{incident}"'}, timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def wait_for_delivery(outbox: Outbox, key: str) -> None:
    deadline = time.monotonic() + 10
    while not outbox.is_delivered(key):
        parked = outbox.parked()
        assert not parked, parked[0].reason
        assert time.monotonic() < deadline, f"{key} not delivered"
        time.sleep(0.02)


def test_trigger_reaches_alertmanager_and_resolve_ends_it(alertmanager: str, outbox_and_worker: Outbox) -> None:
    outbox = outbox_and_worker
    incident = f"inc-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC).replace(microsecond=0)
    trigger = sample_notification(
        key=f"{incident}:r1:am", receiver="am", incident_id=incident, severity=5, occurred_at=started
    )

    assert outbox.enqueue(trigger)
    wait_for_delivery(outbox, trigger.idempotency_key)

    alerts = alerts_for(alertmanager, incident)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["labels"] == {
        "alertname": "CXCrisis",
        "brand": "acme-air",
        "severity": "critical",
        "incident": incident,
        "fingerprint": "fp-acme-air-baggage",
        "source": "cxpulse",
    }
    assert alert["annotations"]["summary"] == "Baggage complaints spiking at LHR"
    assert alert["annotations"]["description"].startswith("Negative mentions")
    assert alert["annotations"]["cx_severity"] == "5"
    assert alert["generatorURL"] == "https://cxpulse.example/incidents/inc-1"
    assert alert["status"]["state"] == "active"
    assert datetime.fromisoformat(alert["startsAt"]) == started
    assert alert["receivers"] == [{"name": "blackhole"}]

    resolve = sample_notification(
        key=f"{incident}:r2:am",
        receiver="am",
        incident_id=incident,
        severity=5,
        action="resolve",
        occurred_at=datetime.now(UTC),
    )
    assert outbox.enqueue(resolve)
    wait_for_delivery(outbox, resolve.idempotency_key)

    # Alertmanager lists only alerts that have not ended: a resolved alert drops out.
    assert alerts_for(alertmanager, incident) == []


def test_an_update_is_the_same_alert(alertmanager: str, outbox_and_worker: Outbox) -> None:
    outbox = outbox_and_worker
    incident = f"inc-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC).replace(microsecond=0)
    first = sample_notification(key=f"{incident}:r1:am", receiver="am", incident_id=incident, occurred_at=started)
    update = sample_notification(
        key=f"{incident}:r2:am",
        receiver="am",
        incident_id=incident,
        action="update",
        summary="Now 9x the baseline.",
        occurred_at=datetime.now(UTC),
    )

    outbox.enqueue(first)
    outbox.enqueue(update)
    wait_for_delivery(outbox, update.idempotency_key)

    alerts = alerts_for(alertmanager, incident)
    assert len(alerts) == 1
    assert alerts[0]["annotations"]["description"] == "Now 9x the baseline."
    assert alerts[0]["annotations"]["action"] == "update"
    # Alertmanager keeps the earliest start when the same alert is posted again.
    assert datetime.fromisoformat(alerts[0]["startsAt"]) == started
