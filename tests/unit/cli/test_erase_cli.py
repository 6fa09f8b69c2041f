"""`cxpulse erase`: where it finds the services and the token, and what it prints."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cxpulse_cli.erase import Outcome, connection, describe, run
from cxpulse_cli.localstack import Stack
from cxpulse_cli.main import build_parser


def args(**overrides: object) -> argparse.Namespace:
    return argparse.Namespace(
        **{"customer": "x:alice", "scorer_url": None, "alerts_url": None, "timeout": 5.0} | overrides
    )


def test_flags_beat_the_environment_which_beats_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXPULSE_RUN_DIR", str(tmp_path))
    Stack(
        run_dir=tmp_path,
        env={
            "SCORER_URL": "http://stack-scorer",
            "ALERTS_URL": "http://stack-alerts",
            "CXPULSE_API_TOKEN": "stack-token",
        },
    ).save()
    assert connection(args(), {}) == ("http://stack-scorer", "http://stack-alerts", "stack-token")
    environ = {"SCORER_URL": "http://env-scorer", "CXPULSE_API_TOKEN": "env-token"}
    assert connection(args(scorer_url="http://flag-scorer"), environ) == (
        "http://flag-scorer",
        "http://stack-alerts",
        "env-token",
    )


def test_without_services_or_token_it_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CXPULSE_RUN_DIR", str(tmp_path))
    for name in ("SCORER_URL", "ALERTS_URL", "CXPULSE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert run(args(scorer_url="http://127.0.0.1:9")) == 2
    assert "ALERTS_URL, CXPULSE_API_TOKEN" in capsys.readouterr().out


def test_the_token_is_never_a_flag() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["erase", "--customer", "x:alice", "--token", "t"])
    parsed = build_parser().parse_args(["erase", "--customer", "x:alice"])
    assert parsed.customer == "x:alice"


def test_what_it_prints() -> None:
    scorer = Outcome(
        "scorer",
        True,
        {"removed": {"customer_reach": 2}, "brands": ["acme-air", "globex-air"], "matched_as": ["author"]},
    )
    assert describe(scorer) == "scorer: read as author; removed 2 customer reach in acme-air, globex-air"
    alerts = Outcome(
        "alerts",
        True,
        {
            "removed": {"samples": 1, "signal_details": 0},
            "incidents": ["inc-1"],
            "matched_as": [],
            "reference": "era-0123",
        },
    )
    assert describe(alerts) == (
        "alerts: read as nothing it stores; removed 1 samples, 0 signal details from inc-1; audit reference era-0123"
    )
    failed = Outcome("scorer", False, {"status": 503, "title": "Erasure unavailable", "detail": "no key"})
    assert describe(failed) == "scorer: FAILED 503 Erasure unavailable: no key"
