"""A full run of the local stack leaves no configured secret in any log it wrote.

Every secret the stack is configured with is set: channel webhook secrets (two for a channel in
rotation), the operator and team API tokens, the pseudonymisation key, Slack's URL token, a
PagerDuty routing key, a signed webhook receiver's secret and a Redis password. The run exercises
the paths most likely to log them: good and bad signatures, a stale timestamp, an unknown channel,
a rate-limited channel, API calls with right, wrong and misplaced tokens, a crisis whose
notifications fail before they succeed, and `cxpulse erase`. Then the stack stops and every log
file is read.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cxpulse_cli import erase
from cxpulse_cli.localstack import (
    LOOPBACK,
    ManagedProcess,
    free_port,
    redis_binary,
    running_stack,
    spawn,
    wait_for_port,
)
from cxpulse_cli.webhook_client import encode, signed_headers
from tests.support.collector import mention, survey
from tests.support.http_receiver import HttpReceiver, ReceivedRequest, Reply

pytestmark = pytest.mark.integration
RAW_CUSTOMER_ID, EMAIL = "crm-secret-4242", "jane.roe@example.org"


def webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def configured_secrets() -> dict[str, str]:
    return {
        "DEMO_WEBHOOK_SECRET": webhook_secret(),
        "LISTENING_SECRET": webhook_secret(),
        "LISTENING_SECRET_NEXT": webhook_secret(),
        "CXPULSE_API_TOKEN": secrets.token_urlsafe(32),
        "CARE_TEAM_TOKEN": secrets.token_urlsafe(32),
        "COLLECTOR_PSEUDONYMISATION_KEY": secrets.token_urlsafe(32),
        "SLACK_URL_TOKEN": secrets.token_hex(12),
        "ARCHIVE_URL_TOKEN": secrets.token_hex(12),
        "PAGERDUTY_ROUTING_KEY": secrets.token_hex(16),
        "HOOK_SECRET": webhook_secret(),
    }


def forms(secret: str) -> set[str]:
    """The secret as configured, and the key bytes of a `whsec_` secret in the other encodings a
    careless log line could use."""
    found = {secret}
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
        found |= {secret.removeprefix("whsec_"), key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("=")}
    return found


def leaks(text: str, configured: dict[str, str]) -> list[str]:
    return sorted(name for name, secret in configured.items() if any(form in text for form in forms(secret)))


def write_config(tmp_path: Path, receiver_url: str) -> tuple[Path, Path]:
    channels = tmp_path / "channels.yaml"
    channels.write_text(
        """
channels:
  - {name: demo, source: cxpulse-demo, secrets: ["${DEMO_WEBHOOK_SECRET}"], brands: ["*"], rate_limit_per_s: null}
  - name: listening
    source: listening-feed
    secrets: ["${LISTENING_SECRET}", "${LISTENING_SECRET_NEXT}"]
    brands: ["*"]
    rate_limit_per_s: 0.2
    burst: 3
"""
    )
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(
        f"""
receivers:
  - {{name: care-slack, type: slack, url: "{receiver_url}/slack/services/T0/B0/${{SLACK_URL_TOKEN}}"}}
  - {{name: care-pagerduty, type: pagerduty, routing_key: "${{PAGERDUTY_ROUTING_KEY}}", url: "{receiver_url}/pd"}}
  - {{name: care-hook, type: webhook, url: "{receiver_url}/hook", secret: "${{HOOK_SECRET}}"}}
  - {{name: care-archive, type: slack, url: "{receiver_url}/archive/services/${{ARCHIVE_URL_TOKEN}}"}}
teams:
  - name: care
    receivers: [care-slack, care-pagerduty, care-hook, care-archive]
    acknowledge_within: 1h
route:
  team: care
  group_by: [brand]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
"""
    )
    return channels, ownership


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    password = secrets.token_hex(16)
    port = free_port()
    process = spawn(
        "redis-auth",
        [redis_binary(), "--bind", LOOPBACK, "--port", str(port), "--requirepass", password, "--save", ""],
        log_dir=tmp_path / "run" / "logs",
        address=f"redis://:{password}@{LOOPBACK}:{port}/0",
    )
    try:
        wait_for_port(LOOPBACK, port, timeout_s=30, process=process)
        yield process, password
    finally:
        process.stop()


def failing_first(request: ReceivedRequest, failures: dict[str, list[Reply]]) -> Reply:
    """Slack and the webhook fail before they succeed (retried); the archive never takes one (parked)."""
    if request.path.startswith("/archive"):
        return Reply(status=404, body=b"no_service")
    for prefix, queued in failures.items():
        if request.path.startswith(prefix) and queued:
            return queued.pop(0)
    return Reply()


def test_a_full_run_logs_no_configured_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    receiver: HttpReceiver,
    redis_with_password: tuple[ManagedProcess, str],
) -> None:
    redis_process, redis_password = redis_with_password
    configured = configured_secrets() | {"REDIS_PASSWORD": redis_password}
    channels, ownership = write_config(tmp_path, receiver.url)
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CXPULSE_TEAM_TOKENS", json.dumps({"care": configured["CARE_TEAM_TOKEN"]}))
    monkeypatch.setenv("REDIS_URL", redis_process.address)
    monkeypatch.setenv("COLLECTOR_CHANNELS_FILE", str(channels))
    monkeypatch.setenv("OWNERSHIP_FILE", str(ownership))
    monkeypatch.setenv("CXPULSE_RUN_DIR", str(tmp_path / "run"))
    # The most verbose level the services have, so a secret logged at any level is found.
    monkeypatch.setenv("CXPULSE_LOG_LEVEL", "DEBUG")
    for inherited in ("KAFKA_BOOTSTRAP_SERVERS", "SCORER_URL", "ALERTS_URL", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(inherited, raising=False)
    failures = {"/slack": [Reply(status=500, body=b"internal error")], "/hook": [Reply(status=502), Reply(status=503)]}
    receiver.handler = lambda request: failing_first(request, failures)
    run_dir = tmp_path / "run"
    brand = f"secrets-{uuid.uuid4().hex[:8]}"

    with running_stack(run_dir) as stack:
        env = stack.env
        surveys = f"{env['COLLECTOR_URL']}/v1/surveys"
        mentions = f"{env['COLLECTOR_URL']}/v1/mentions"
        answered: list[int] = []

        def post(url: str, channel: str, payload: object, secret: str, *, sent_at: float | None = None) -> None:
            body = encode(payload)
            response = httpx.post(
                url, params={"channel": channel}, content=body, headers=signed_headers(secret, body, timestamp=sent_at)
            )
            answered.append(response.status_code)

        personal = survey(brand=brand, customer_id=RAW_CUSTOMER_ID, comment=f"mail me at {EMAIL}, still no refund")
        post(surveys, "demo", personal, configured["DEMO_WEBHOOK_SECRET"])
        post(surveys, "listening", survey(brand=brand), configured["LISTENING_SECRET_NEXT"])
        post(surveys, "demo", survey(brand=brand), configured["LISTENING_SECRET"])
        post(surveys, "nobody", survey(brand=brand), configured["DEMO_WEBHOOK_SECRET"])
        post(surveys, "demo", survey(brand=brand), configured["DEMO_WEBHOOK_SECRET"], sent_at=time.time() - 900)
        unsigned = httpx.post(surveys, params={"channel": "demo"}, content=encode(survey(brand=brand)))
        answered.append(unsigned.status_code)
        for _ in range(6):
            post(surveys, "listening", survey(brand=brand), configured["LISTENING_SECRET"])
        crisis = mention(
            brand=brand,
            text="Baggage handlers destroyed my guitar. Worst airline, never again.",
            occurred_at=datetime.now(UTC).isoformat(),
            author={"handle": "famous_musician", "followers": 2_500_000},
            engagement={"likes": 40_000, "shares": 9_000, "replies": 3_000},
        )
        post(mentions, "demo", crisis, configured["DEMO_WEBHOOK_SECRET"])
        assert answered[:6] == [202, 202, 401, 401, 401, 401]
        assert 429 in answered[6:12]
        assert answered[-1] == 202

        operator = {"authorization": f"Bearer {configured['CXPULSE_API_TOKEN']}"}
        care = {"authorization": f"Bearer {configured['CARE_TEAM_TOKEN']}"}
        with httpx.Client(timeout=30) as api:
            assert api.get(f"{env['SCORER_URL']}/v1/journey", params={"brand": "acme-air"}, headers=operator).is_success
            assert api.get(f"{env['ALERTS_URL']}/v1/incidents", headers=care).is_success
            assert api.get(f"{env['ALERTS_URL']}/v1/audit", headers=care).status_code == 403
            for misplaced in (
                {"authorization": f"Token {configured['CXPULSE_API_TOKEN']}"},
                {"authorization": f"Bearer {configured['CXPULSE_API_TOKEN']}x"},
                {"authorization": f"Bearer {configured['CARE_TEAM_TOKEN']} {configured['CXPULSE_API_TOKEN']}"},
            ):
                assert (
                    api.get(f"{env['SCORER_URL']}/v1/pnl", params={"brand": "acme-air"}, headers=misplaced).status_code
                    == 401
                )

        assert receiver.wait_for(
            lambda requests: (
                {"/pd", "/hook"} <= {r.path for r in requests if r.succeeded}
                and any(r.path.startswith("/slack") and r.succeeded for r in requests)
                and any(r.path.startswith("/archive") for r in requests)
            ),
            timeout_s=180,
        ), f"notifications did not all arrive: {[(r.path, r.reply.status) for r in receiver.requests]}"
        assert failures == {"/slack": [], "/hook": []}, "the failing deliveries never happened"

        monkeypatch.setenv("SCORER_URL", env["SCORER_URL"])
        monkeypatch.setenv("ALERTS_URL", env["ALERTS_URL"])
        capsys.readouterr()
        erased = erase.run(
            argparse.Namespace(customer="x:famous_musician", scorer_url=None, alerts_url=None, timeout=30)
        )
        cli_output = capsys.readouterr().out
        assert erased == 0, cli_output
        assert "scorer: read as author / customer_id; removed 1 customer reach" in cli_output
        assert "alerts: read as author; removed 1 samples" in cli_output
        assert "audit reference era-" in cli_output
        incidents = httpx.get(f"{env['ALERTS_URL']}/v1/incidents", headers=operator, timeout=30).json()["incidents"]
        assert incidents
        assert "famous_musician" not in json.dumps(incidents)
        for metrics_of in ("COLLECTOR_URL", "SCORER_URL", "ALERTS_URL"):
            cli_output += httpx.get(f"{env[metrics_of]}/metrics", timeout=30).text

    log_files = sorted(path for path in run_dir.rglob("*.log") if path.is_file())
    names = {path.stem for path in log_files}
    assert {"broker", "collector", "scorer", "alerts", "redis-auth"} <= names, names
    findings = {str(path): leaks(path.read_text(errors="replace"), configured) for path in log_files}
    assert {path: found for path, found in findings.items() if found} == {}
    assert leaks(cli_output, configured) == []
    # Personal data the collector pseudonymises or masks is not in the logs either.
    texts = {path: path.read_text(errors="replace") for path in log_files}
    assert [path for path, text in texts.items() if RAW_CUSTOMER_ID in text or EMAIL in text] == []
    # The scan can fail: the environment file `make up` writes holds the stack's secrets on purpose.
    assert {"DEMO_WEBHOOK_SECRET", "CXPULSE_API_TOKEN", "COLLECTOR_PSEUDONYMISATION_KEY"} <= set(
        leaks((run_dir / "env").read_text(), configured)
    )
