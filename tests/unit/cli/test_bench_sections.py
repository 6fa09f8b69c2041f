from __future__ import annotations

import json
import math
import os
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from cxpulse_alerts.domain.ownership import parse_ownership
from cxpulse_cli.bench import SECTIONS
from cxpulse_cli.bench.alerts import SIGNING_KEY_VARIABLE, NotificationSink, environment, ownership_yaml
from cxpulse_cli.bench.scorer import (
    PATHOLOGICAL_EMOJI,
    PATHOLOGICAL_TEXT,
    lag_ms,
    pathological_sentiment_max_ms,
    steady_rate,
)


def test_steady_rate_measures_between_the_samples_that_first_reach_each_share() -> None:
    samples = [(0.0, 0), (5.0, 999), (6.0, 2000), (7.0, 3000), (8.0, 8999), (9.0, 9500), (10.0, 10_000)]

    # 10% is first reached at 6 s (2,000 events; 999 is short of it), 90% at 9 s (9,500 events).
    assert steady_rate(samples, 10_000) == pytest.approx((9500 - 2000) / (9.0 - 6.0))


def test_steady_rate_ignores_the_slow_start() -> None:
    join_then_steady = [(0.0, 0), (30.0, 0), *((30.0 + second, second * 1000) for second in range(1, 11))]

    assert steady_rate(join_then_steady, 10_000) == pytest.approx(1000.0)


@pytest.mark.parametrize(
    "samples",
    [[], [(0.0, 0), (1.0, 500)], [(0.0, 9500)]],
    ids=["no samples", "never reached 90%", "both shares in one sample"],
)
def test_steady_rate_is_nan_without_two_distinct_ends(samples: list[tuple[float, int]]) -> None:
    assert math.isnan(steady_rate(samples, 10_000))


def scored(response_id: str, received_at: str, scored_at: str) -> bytes:
    return json.dumps(
        {"event": {"kind": "survey", "response_id": response_id, "received_at": received_at}, "scored_at": scored_at}
    ).encode()


def test_lag_is_scored_at_minus_received_at_for_the_feed_events() -> None:
    value = scored("bench-abc-7", "2026-01-01T10:00:00.000+00:00", "2026-01-01T10:00:00.250+00:00")

    assert lag_ms(value, "bench-abc-", received_from=datetime(2026, 1, 1, tzinfo=UTC)) == pytest.approx(250.0)


def test_lag_skips_other_events_and_those_received_before_the_window() -> None:
    window_start = datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC)
    other_feed = scored("bench-xyz-1", "2026-01-01T10:00:05+00:00", "2026-01-01T10:00:06+00:00")
    warm_up = scored("bench-abc-1", "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:02+00:00")
    mention = json.dumps(
        {"event": {"kind": "mention", "received_at": "2026-01-01T10:00:05+00:00"}, "scored_at": "2026-01-01T10:00:06Z"}
    ).encode()

    assert lag_ms(other_feed, "bench-abc-", received_from=window_start) is None
    assert lag_ms(warm_up, "bench-abc-", received_from=window_start) is None
    assert lag_ms(mention, "bench-abc-", received_from=window_start) is None


def test_pathological_inputs_are_the_promised_sizes() -> None:
    assert len(PATHOLOGICAL_TEXT) == 100_000
    assert PATHOLOGICAL_TEXT.startswith("good but bad good")
    assert len(PATHOLOGICAL_EMOJI) == 4000
    assert pathological_sentiment_max_ms() >= 0


def test_the_ownership_file_routes_every_brand_to_the_webhook_without_waiting() -> None:
    ownership = parse_ownership(
        ownership_yaml("http://127.0.0.1:9"), environ={SIGNING_KEY_VARIABLE: "whsec_dGVzdHRlc3R0ZXN0dGVzdA=="}
    )

    routed = ownership.route({"brand": "bench-crisis-1", "severity": 4})
    assert routed.receivers == ["bench-webhook"]
    assert routed.group_wait.total_seconds() == 0


def test_environment_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXPULSE_BENCH_KEPT", "before")
    monkeypatch.delenv("CXPULSE_BENCH_ADDED", raising=False)

    with environment({"CXPULSE_BENCH_KEPT": "during", "CXPULSE_BENCH_ADDED": "during"}):
        assert os.environ["CXPULSE_BENCH_KEPT"] == "during"
        assert os.environ["CXPULSE_BENCH_ADDED"] == "during"
    assert os.environ["CXPULSE_BENCH_KEPT"] == "before"
    assert "CXPULSE_BENCH_ADDED" not in os.environ


def test_the_sink_finds_the_first_request_naming_a_brand() -> None:
    with NotificationSink() as sink:
        httpx.post(f"{sink.url}/notifications", content=b'{"brand": "other"}')
        threading.Timer(0.05, lambda: httpx.post(f"{sink.url}/n", content=b'{"brand": "bench-crisis-1"}')).start()
        before = time.monotonic()

        arrival = sink.first_naming("bench-crisis-1", timeout_s=5)

        assert arrival is not None
        assert arrival.body == b'{"brand": "bench-crisis-1"}'
        assert arrival.received_at >= before
        assert sink.first_naming("never-sent", timeout_s=0.01) is None


def test_both_sections_are_registered() -> None:
    assert SECTIONS["scorer"] == "cxpulse_cli.bench.scorer"
    assert SECTIONS["alerts"] == "cxpulse_cli.bench.alerts"
