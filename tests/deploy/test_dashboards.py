"""Grafana dashboards: generated from deploy/grafana/generate.py, never edited by hand, and
provisioned the same way in compose (files) and Kubernetes (ConfigMaps)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.deploy.support import DASHBOARDS, DEPLOY, dashboard_files, load_yaml

EXPECTED_TITLES = {
    "Executive — social P&L",
    "Journey satisfaction",
    "Crisis and incidents",
    "Pipeline operations",
}


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in dashboard_files()]


def test_committed_dashboards_are_what_the_generator_builds() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_drift_check_notices_a_hand_edit(tmp_path: Any) -> None:
    """Runs the generator's check on a copy with one edited file, which must fail."""
    copy = tmp_path / "grafana"
    (copy / "dashboards").mkdir(parents=True)
    (copy / "generate.py").write_text((DEPLOY / "grafana" / "generate.py").read_text(encoding="utf-8"))
    for path in dashboard_files():
        (copy / "dashboards" / path.name).write_text(path.read_text(encoding="utf-8"))
    edited = copy / "dashboards" / dashboard_files()[0].name
    edited.write_text(edited.read_text(encoding="utf-8").replace('"refresh"', '"refresh_"', 1))
    result = subprocess.run(
        [sys.executable, str(copy / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert edited.name in result.stderr


def test_the_four_dashboards_exist_with_unique_uids() -> None:
    dashboards = _dashboards()
    assert {d["title"] for d in dashboards} == EXPECTED_TITLES
    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    for dashboard in dashboards:
        assert len(dashboard["uid"]) <= 40, "Grafana refuses longer uids"
        assert "cxpulse" in dashboard["tags"]


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda path: path.name)
def test_panels_fit_the_grid_without_overlapping(path: Any) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        columns = range(grid["x"], grid["x"] + grid["w"])
        cells = {(x, y) for x in columns for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda path: path.name)
def test_every_query_uses_the_datasource_variable(path: Any) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert target["expr"].strip(), panel["title"]
            used = set(re.findall(r"\$(\w+)", target["expr"]))
            assert all(name.startswith("__") or name in variables for name in used), panel["title"]


def test_the_executive_dashboard_shows_net_lines_and_trend_per_brand_and_period() -> None:
    (dashboard,) = [d for d in _dashboards() if d["uid"] == "cxpulse-executive-pnl"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"brand", "period"} <= variables
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    assert 'line="net"' in exprs
    assert "sum by (line)" in exprs
    assert any(p["type"] == "timeseries" for p in dashboard["panels"])
    assert any("model_version" in p.get("options", {}).get("content", "") for p in dashboard["panels"])


def test_kubernetes_and_compose_provision_exactly_the_generated_files() -> None:
    kustomization = load_yaml(DEPLOY / "grafana" / "kustomization.yaml")
    generated = {
        DEPLOY / "grafana" / file for generator in kustomization["configMapGenerator"] for file in generator["files"]
    }
    assert generated == set(dashboard_files())
    assert kustomization["generatorOptions"]["labels"] == {"grafana_dashboard": "1"}
    compose = load_yaml(DEPLOY / "compose.yaml")
    mounts = {
        (DEPLOY / source).resolve(): target
        for source, target, *_ in (volume.split(":") for volume in compose["services"]["grafana"]["volumes"])
        if source.startswith(".")
    }
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "cxpulse.yaml")["providers"][0]
    assert mounts[DASHBOARDS.resolve()] == provider["options"]["path"]
    assert mounts[(DEPLOY / "grafana" / "provisioning").resolve()] == "/etc/grafana/provisioning"
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["type"] == "prometheus"
