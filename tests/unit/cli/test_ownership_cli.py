from __future__ import annotations

from pathlib import Path

import pytest

from cxpulse_cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_FILE = REPO_ROOT / "config/ownership.example.yaml"
EXAMPLE_ENVIRONMENT = {
    "CARE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/care",
    "BAGGAGE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/baggage",
    "CARE_LEADS_PAGERDUTY_KEY": "care-leads-routing-key",
    "PR_PAGERDUTY_KEY": "pr-routing-key",
    "PRODUCT_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


@pytest.fixture
def example_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def line_of(path: Path, fragment: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def output_field(output: str, name: str) -> str:
    return next(line.removeprefix(name).strip() for line in output.splitlines() if line.startswith(name))


@pytest.mark.usefixtures("example_environment")
def test_shows_teams_receivers_routes_and_timers(capsys: pytest.CaptureFixture[str]) -> None:
    labels = ["--brand", "acme-air", "--stage", "baggage", "--stage", "flight", "--severity", "5"]
    status = main(["ownership", "test", "--file", str(EXAMPLE_FILE), *labels])

    output = capsys.readouterr().out
    assert status == 0
    assert output_field(output, "teams") == "pr, baggage-care"
    assert output_field(output, "receivers") == "pr-pagerduty (pagerduty), audit-log (log), baggage-slack (slack)"
    assert output_field(output, "escalation") == "care-leads-pagerduty (pagerduty)"
    assert output_field(output, "acknowledge") == "within 10m (pr), 30m (baggage-care)"
    assert f"{EXAMPLE_FILE}:{line_of(EXAMPLE_FILE, 'severity>=4')}  route.routes[0] -> pr" in output
    assert f"{EXAMPLE_FILE}:{line_of(EXAMPLE_FILE, 'stage=~')}  route.routes[2] -> baggage-care" in output
    assert "group_by [brand, stage]  group_wait 30s  group_interval 5m  repeat_interval 4h" in output
    assert "group_by [brand]  group_wait 10s  group_interval 5m  repeat_interval 1h" in output


@pytest.mark.usefixtures("example_environment")
def test_a_single_label_is_enough(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["ownership", "test", "--file", str(EXAMPLE_FILE), "--topic", "idea"])

    output = capsys.readouterr().out
    assert status == 0
    assert output_field(output, "incident") == "topic=idea"
    assert output_field(output, "teams") == "product"
    assert output_field(output, "receivers") == "product-webhook (webhook)"
    assert output_field(output, "escalation") == "none"
    assert output_field(output, "acknowledge") == "no deadline"


def test_defaults_to_config_ownership_yaml(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.delenv("OWNERSHIP_FILE", raising=False)

    status = main(["ownership", "test", "--brand", "acme-air", "--severity", "5"])

    output = capsys.readouterr().out
    assert status == 0
    assert output_field(output, "ownership file").startswith("config/ownership.yaml ")
    assert output_field(output, "teams") == "care"
    assert output_field(output, "receivers") == "care-local (log)"
    assert "route -> care: every incident" in output


def test_ownership_file_variable_chooses_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(
        "receivers: [{name: ops-log, type: log, path: ops.ndjson}]\n"
        "teams: [{name: ops, receivers: [ops-log]}]\n"
        "route: {team: ops}\n"
    )
    monkeypatch.setenv("OWNERSHIP_FILE", str(path))

    status = main(["ownership", "test", "--platform", "x", "--channel", "demo"])

    output = capsys.readouterr().out
    assert status == 0
    assert output_field(output, "incident") == "platform=x channel=demo"
    assert output_field(output, "teams") == "ops"


@pytest.mark.parametrize("action", ["test", "check"])
def test_invalid_file_fails_with_its_line(action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(
        "receivers: [{name: care-log, type: log, path: care.ndjson}]\n"
        "teams: [{name: care, receivers: [care-log]}]\n"
        "route:\n"
        "  team: care\n"
        "  routes:\n"
        "    - matchers: ['severity>=4']\n"
        "      team: pr\n"
    )

    status = main(["ownership", action, "--file", str(path)])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert f"{path}:7: route.routes[0].team: unknown team 'pr'" in captured.err


def test_missing_secret_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in EXAMPLE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    status = main(["ownership", "check", "--file", str(EXAMPLE_FILE)])

    line = line_of(EXAMPLE_FILE, "${CARE_SLACK_WEBHOOK_URL}")
    assert status == 1
    assert f"{EXAMPLE_FILE}:{line}: environment variable CARE_SLACK_WEBHOOK_URL is not set" in (capsys.readouterr().err)


@pytest.mark.usefixtures("example_environment")
def test_check_summarises_a_valid_file(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["ownership", "check", "--file", str(EXAMPLE_FILE)])

    output = capsys.readouterr().out
    assert status == 0
    assert f"{EXAMPLE_FILE}: valid, 7 receivers, 5 teams, 6 routes (sha256 " in output
    assert "note:" not in output


def test_check_notes_unused_teams_and_receivers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(
        "receivers:\n"
        "  - {name: care-log, type: log, path: care.ndjson}\n"
        "  - {name: spare-log, type: log, path: spare.ndjson}\n"
        "teams:\n"
        "  - {name: care, receivers: [care-log]}\n"
        "  - {name: night-shift, receivers: [care-log]}\n"
        "route: {team: care}\n"
    )

    status = main(["ownership", "check", "--file", str(path)])

    output = capsys.readouterr().out
    assert status == 0
    assert f"note: {path}:6: no route sends incidents to team 'night-shift'" in output
    assert "note: receiver 'spare-log' is listed by no team" in output


def test_severity_outside_one_to_five_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ownership", "test", "--severity", "7"])

    assert exited.value.code == 2
    assert "--severity" in capsys.readouterr().err
