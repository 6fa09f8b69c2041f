"""Dashboards and rules name only metrics of deploy/metrics.yaml, with labels those metrics have."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.support import (
    REGISTRY,
    Registry,
    Selector,
    dashboard_files,
    load_yaml,
    recorded_names,
    rule_groups,
    selectors,
    variable_query_selectors,
)

PARSER_CASES = [
    ('sum by (brand) (rate(a_total{x="1", y=~"b|c"}[5m]))', [Selector("a_total", frozenset({"x", "y"}))]),
    ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[$__rate_interval])))", [Selector("h_bucket", frozenset())]),
    (
        "a:b:rate5m > (14.4 * 0.001) and on () (c or vector(0)) == 0",
        [Selector("a:b:rate5m", frozenset()), Selector("c", frozenset())],
    ),
    ('count(up{job=~"a|b"} == 1) or vector(1e-3)', [Selector("up", frozenset({"job"}))]),
    ('m{brand="$brand", stage!="all"} offset 1h', [Selector("m", frozenset({"brand", "stage"}))]),
    ('label_replace(m, "dst", "$1", "src", "(.*)")', [Selector("m", frozenset())]),
]


@pytest.mark.parametrize(("expr", "expected"), PARSER_CASES)
def test_the_selector_parser_finds_series_and_their_labels(expr: str, expected: list[Selector]) -> None:
    assert selectors(expr) == expected


def test_the_registry_reports_unknown_metrics_and_labels() -> None:
    registry = Registry.load()
    assert registry.problems(Selector("cx_collector_requests_total", frozenset({"route", "job"})), set()) == []
    assert registry.problems(Selector("cx_collector_request_total", frozenset()), set()) == [
        "cx_collector_request_total is not in deploy/metrics.yaml"
    ]
    assert registry.problems(Selector("cx_stage_nps", frozenset({"team"})), set()) == ["cx_stage_nps has no label team"]
    assert registry.problems(Selector("cx_alerts_time_to_acknowledge_seconds_bucket", frozenset({"le"})), set()) == []
    assert registry.problems(Selector("cxpulse:recorded", frozenset({"anything"})), {"cxpulse:recorded"}) == []


def test_label_values_queries_check_the_label_too() -> None:
    assert variable_query_selectors('label_values(m{brand="$brand"}, stage)') == [
        Selector("m", frozenset({"brand", "stage"}))
    ]


def _dashboard_expressions() -> Iterator[tuple[str, list[Selector]]]:
    for path in dashboard_files():
        dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", selectors(target["expr"])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                yield f"{path.name}: ${variable['name']}", variable_query_selectors(variable["query"]["query"])


def _rule_expressions() -> Iterator[tuple[str, list[Selector]]]:
    for group in rule_groups():
        for rule in group["rules"]:
            yield f"{group['name']}: {rule.get('alert') or rule.get('record')}", selectors(rule["expr"])


def test_registry_entries_follow_prometheus_naming() -> None:
    document = load_yaml(REGISTRY)
    for name, entry in document["metrics"].items():
        assert name.startswith("cx_"), name
        assert entry["type"] in ("counter", "gauge", "histogram"), name
        assert (entry["type"] == "counter") == name.endswith("_total"), f"{name}: only counters end in _total"
        if entry["type"] == "histogram":
            assert name.endswith("_seconds"), f"{name}: histograms here measure time in seconds"
        assert entry["help"], name
        assert entry["service"], name
        assert {"le", "job", "instance"}.isdisjoint(entry["labels"]), name


@pytest.mark.parametrize("source", ["dashboards", "rules"])
def test_queries_name_only_registered_metrics_and_labels(source: str) -> None:
    registry = Registry.load()
    recorded = recorded_names()
    expressions = list(_dashboard_expressions() if source == "dashboards" else _rule_expressions())
    assert len(expressions) > 20
    problems = [
        f"{where}: {problem}"
        for where, found in expressions
        for selector in found
        for problem in registry.problems(selector, recorded)
    ]
    assert not problems, "\n".join(problems)
    assert all(found for _, found in expressions), "an expression that reads no series"


def test_every_dashboard_reads_metrics_of_every_service() -> None:
    """The operations dashboard covers the whole pipeline, not just the collector."""
    document = load_yaml(REGISTRY)
    services = {
        name: set(entry["service"] if isinstance(entry["service"], list) else [entry["service"]])
        for name, entry in document["metrics"].items()
    }
    read = {
        selector.metric.removesuffix("_bucket")
        for where, found in _dashboard_expressions()
        if where.startswith("pipeline-operations.json")
        for selector in found
    }
    covered = set().union(*(services[name] for name in read if name in services))
    assert covered == {"collector", "scorer", "alerts"}
