from __future__ import annotations

from cxpulse_cli.bench.knee import Step, knee_rps, report


def step(rate: float, p99_ms: float, **failures: int) -> Step:
    return Step(offered_rps=rate, achieved_rps=rate, p50_ms=p99_ms / 3, p99_ms=p99_ms, failures=failures)


def test_the_knee_is_the_last_step_before_p99_passes_the_limit() -> None:
    steps = [step(100, 20.0), step(200, 45.0), step(300, 100.0), step(400, 180.0)]

    # 100 ms is still within the limit; 180 ms is over.
    assert knee_rps(steps, p99_limit_ms=100.0) == 300


def test_a_step_with_failed_requests_ends_the_climb_whatever_its_latency() -> None:
    steps = [step(100, 20.0), step(200, 30.0, **{"HTTP 503": 2}), step(300, 40.0)]

    assert knee_rps(steps, p99_limit_ms=100.0) == 100


def test_a_step_that_recovers_after_the_first_one_over_does_not_count() -> None:
    steps = [step(100, 20.0), step(200, 150.0), step(300, 60.0)]

    assert knee_rps(steps, p99_limit_ms=100.0) == 100


def test_no_knee_when_the_first_step_is_already_over() -> None:
    assert knee_rps([step(100, 120.0)], p99_limit_ms=100.0) == 0.0


def test_report_names_the_knee_and_the_step_over_it() -> None:
    metrics = report([step(100, 20.0), step(200, 40.0), step(300, 250.0)], step_s=15.0).metrics

    assert metrics["collector_knee_rps"] == 200
    assert metrics["collector_knee_p99_ms"] == 40.0
    assert (metrics["collector_knee_over_rps"], metrics["collector_knee_over_p99_ms"]) == (300, 250.0)


def test_report_without_a_step_over_the_limit_has_no_next_step() -> None:
    metrics = report([step(100, 20.0), step(200, 40.0)], step_s=15.0).metrics

    assert metrics["collector_knee_rps"] == 200
    assert "collector_knee_over_rps" not in metrics
