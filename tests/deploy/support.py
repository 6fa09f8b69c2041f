"""Paths and small parsers shared by the deploy tests (fixtures live in conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
RULE_FILE = DEPLOY / "prometheus" / "rules" / "cxpulse.rules.yaml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
REGISTRY = DEPLOY / "metrics.yaml"
PARTITIONS = 12

Manifest = dict[str, Any]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def of_kind(manifests: list[Manifest], *kinds: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] in kinds]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def pod_spec(workload: Manifest) -> Manifest:
    if workload["kind"] == "CronJob":
        spec: Manifest = workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    template_spec: Manifest = workload["spec"]["template"]["spec"]
    return template_spec


def containers(workload: Manifest) -> Iterator[Manifest]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


# PromQL: just enough of a lexer to find which series an expression reads and which labels its
# selectors match on. Aggregations and keywords are not metric names; the label lists after
# by/without/on/ignoring/group_* are labels, not series; range brackets hold durations.
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<matchers>\{[^}]*\})
    | (?P<range>\[[^\]]*\])
    | (?P<variable>\$\{?\w+\}?)
    | (?P<number>(?:\d+(?:ms|[smhdwy]))+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_LABEL_IN_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset(
    {
        "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip
_LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]


def selectors(expr: str) -> list[Selector]:
    """The series selectors of a PromQL expression (Grafana's `$variables` allowed)."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expr) if m.lastgroup != "space"]
    found: list[Selector] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else (None, "")
        index += 1
        if kind != "name":
            continue
        if value in _LABEL_LIST_KEYWORDS:
            if following[1] == "(":
                while index < len(tokens) and tokens[index][1] != ")":
                    index += 1
            continue
        if value in _KEYWORDS or following[1] == "(":
            continue
        labels: frozenset[str] = frozenset()
        if following[0] == "matchers":
            labels = frozenset(_LABEL_IN_MATCHER.findall(following[1]))
            index += 1
        found.append(Selector(value, labels))
    return found


_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<expr>.*),)?\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)


def variable_query_selectors(query: str) -> list[Selector]:
    """Grafana's `label_values(selector, label)`: the label must be one the selector's metric has."""
    match = _LABEL_VALUES.match(query)
    assert match, f"unexpected variable query {query!r}"
    expr = match.group("expr") or ""
    found = selectors(expr)
    return [Selector(s.metric, s.labels | {match.group("label")}) for s in found]


@dataclass(frozen=True)
class Registry:
    """deploy/metrics.yaml: exposition names and labels of every series we may query."""

    labels_by_series: dict[str, frozenset[str]]
    target_labels: frozenset[str]

    @classmethod
    def load(cls, path: Path = REGISTRY) -> Registry:
        document = load_yaml(path)
        series: dict[str, frozenset[str]] = {}
        for section in ("metrics", "scrape"):
            for name, entry in document[section].items():
                labels = frozenset(entry["labels"])
                if entry["type"] == "histogram":
                    series[f"{name}_bucket"] = labels | {"le"}
                    series[f"{name}_sum"] = labels
                    series[f"{name}_count"] = labels
                else:
                    series[name] = labels
        return cls(series, frozenset(document["target_labels"]))

    def problems(self, selector: Selector, recorded: set[str]) -> list[str]:
        if selector.metric in recorded:
            return []
        if selector.metric not in self.labels_by_series:
            return [f"{selector.metric} is not in deploy/metrics.yaml"]
        unknown = selector.labels - self.labels_by_series[selector.metric] - self.target_labels
        return [f"{selector.metric} has no label {label}" for label in sorted(unknown)]


def rule_groups() -> list[Manifest]:
    groups: list[Manifest] = load_yaml(RULE_FILE)["groups"]
    return groups


def recorded_names() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")
