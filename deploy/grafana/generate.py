"""Grafana dashboards as code: builds the dashboard JSON files Grafana provisions.

Plain Python, no dependency: each dashboard is a function returning the JSON model, panels are
laid out left to right on Grafana's 24-column grid. The files in `dashboards/` are what Grafana
loads (by file in compose, by ConfigMap in Kubernetes); `--check` (run by tests/deploy) fails
when they differ from what this script builds, so edit here, never in the JSON.

    .venv/bin/python deploy/grafana/generate.py          # rewrite dashboards/*.json
    .venv/bin/python deploy/grafana/generate.py --check  # exit 1 when a file is stale

Every query names only metrics from deploy/metrics.yaml or recording rules of
deploy/prometheus/rules/cxpulse.rules.yaml (a test checks it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24
# Grafana 10.4 and later read this schema version without migrating it.
SCHEMA_VERSION = 39

Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass
class Panel:
    """One panel; `width` and `height` in grid units, placed by the dashboard's layout."""

    kind: str
    title: str
    queries: Sequence[Query] = ()
    width: int = 12
    height: int = 8
    description: str = ""
    unit: str = "short"
    decimals: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),)
    options: Json = field(default_factory=dict)
    custom: Json = field(default_factory=dict)
    overrides: Sequence[Json] = ()
    transformations: Sequence[Json] = ()
    content: str = ""


def row(title: str) -> Panel:
    return Panel(kind="row", title=title, width=GRID_WIDTH, height=1)


def stat(title: str, query: Query, **settings: Any) -> Panel:
    settings.setdefault("width", 4)
    settings.setdefault("height", 4)
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "area",
        "textMode": "auto",
        "justifyMode": "auto",
        "orientation": "auto",
    }
    return Panel(kind="stat", title=title, queries=(query,), options=options, **settings)


def timeseries(title: str, *queries: Query, stacked: bool = False, **settings: Any) -> Panel:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 20 if stacked else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
    }
    options = {
        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return Panel(kind="timeseries", title=title, queries=queries, options=options, custom=custom, **settings)


def bargauge(title: str, query: Query, **settings: Any) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": True,
    }
    return Panel(kind="bargauge", title=title, queries=(query,), options=options, **settings)


def table(title: str, *queries: Query, **settings: Any) -> Panel:
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return Panel(kind="table", title=title, queries=queries, options=options, **settings)


def text(title: str, content: str, **settings: Any) -> Panel:
    return Panel(kind="text", title=title, content=content, options={"mode": "markdown"}, **settings)


def _target(query: Query, ref_id: str) -> Json:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "instant": query.instant,
        "range": not query.instant,
        "format": "table" if query.table else "time_series",
        "refId": ref_id,
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> Json:
    position = {"h": panel.height, "w": panel.width, "x": x, "y": y}
    if panel.kind == "row":
        return {
            "type": "row",
            "id": panel_id,
            "title": panel.title,
            "collapsed": False,
            "gridPos": position,
            "panels": [],
        }
    body: Json = {
        "type": panel.kind,
        "id": panel_id,
        "title": panel.title,
        "description": panel.description,
        "gridPos": position,
        "options": panel.options,
    }
    if panel.kind == "text":
        body["options"] = {**panel.options, "content": panel.content}
        return body
    defaults: Json = {
        "unit": panel.unit,
        "color": {"mode": "thresholds" if panel.kind in ("stat", "bargauge") else "palette-classic"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in panel.thresholds],
        },
        "custom": panel.custom,
    }
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    body["datasource"] = DATASOURCE
    body["fieldConfig"] = {"defaults": defaults, "overrides": list(panel.overrides)}
    body["targets"] = [_target(query, chr(ord("A") + index)) for index, query in enumerate(panel.queries)]
    if panel.transformations:
        body["transformations"] = list(panel.transformations)
    return body


def _layout(panels: Sequence[Panel]) -> list[Json]:
    """Fills rows left to right; a panel that does not fit, or a row header, starts a new line."""
    laid_out: list[Json] = []
    x = y = line_height = 0
    for panel_id, panel in enumerate(panels, start=1):
        if panel.kind == "row" or x + panel.width > GRID_WIDTH:
            y += line_height
            x = line_height = 0
        laid_out.append(_panel_json(panel, panel_id, x, y))
        x += panel.width
        line_height = max(line_height, panel.height)
        if panel.kind == "row":
            y += panel.height
            x = line_height = 0
    return laid_out


def query_variable(name: str, label: str, query: str, *, multi: bool = False, current: str | None = None) -> Json:
    """A variable filled from Prometheus; `All` matches everything (`.*`) when multi-valued."""
    variable: Json = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values", "qryType": 1},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "hide": 0,
    }
    if multi:
        variable["allValue"] = ".*"
        variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    elif current is not None:
        variable["current"] = {"selected": True, "text": current, "value": current}
    return variable


def custom_variable(name: str, label: str, values: Sequence[str], default: str) -> Json:
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ",".join(values),
        "current": {"selected": True, "text": default, "value": default},
        "options": [{"selected": value == default, "text": value, "value": value} for value in values],
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


DATASOURCE_VARIABLE: Json = {
    "type": "datasource",
    "name": "datasource",
    "label": "Prometheus",
    "query": "prometheus",
    "current": {"selected": True, "text": "Prometheus", "value": "prometheus"},
    "hide": 0,
    "refresh": 1,
}


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    tags: Sequence[str],
    variables: Sequence[Json],
    panels: Sequence[Panel],
    time_from: str = "now-24h",
    refresh: str = "1m",
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["cxpulse", *tags],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timezone": "browser",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "cxpulse",
                "tags": ["cxpulse"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": [DATASOURCE_VARIABLE, *variables]},
        "panels": _layout(panels),
    }


PNL = 'cx_pnl_line_value{brand="$brand", period="$period"%s}'
PNL_LINES = (
    "revenue_influenced_survey",
    "revenue_influenced_social",
    "revenue_at_risk_survey",
    "revenue_at_risk_social",
    "service_cost",
    "deflection_savings",
    "earned_media_value",
)
PNL_THRESHOLDS = ((None, "red"), (0.0, "green"))
NOT_NET = ', line!="net"'


def _pnl_stat(title: str, lines: Sequence[str], description: str, thresholds: Any = PNL_THRESHOLDS) -> Panel:
    matcher = f', line=~"{"|".join(lines)}"'
    return stat(
        title,
        Query(f"sum by (currency) ({PNL % matcher})", legend="{{currency}}"),
        description=description,
        decimals=0,
        thresholds=thresholds,
    )


def executive_pnl() -> Json:
    panels = [
        row("$brand, this $period"),
        _pnl_stat(
            "Net social P&L",
            ["net"],
            "Influenced revenue and savings minus revenue at risk and service cost, in the brand's currency.",
        ),
        _pnl_stat(
            "Revenue influenced",
            ["revenue_influenced_survey", "revenue_influenced_social"],
            "Revenue attributed to promoters and positive mentions.",
            ((None, "green"),),
        ),
        _pnl_stat(
            "Revenue at risk",
            ["revenue_at_risk_survey", "revenue_at_risk_social"],
            "Revenue exposed by detractors and negative mentions.",
            ((None, "orange"),),
        ),
        _pnl_stat(
            "Savings and earned media",
            ["deflection_savings", "earned_media_value"],
            "Contacts deflected by self-service and the advertising value of reach.",
            ((None, "green"),),
        ),
        _pnl_stat("Service cost", ["service_cost"], "Cost of handling the period's contacts.", ((None, "orange"),)),
        text(
            "Financial model",
            "Figures come from the brand's versioned P&L model (`config/pnl/*.yaml`). Each line's "
            "`model_version`, formula, inputs and basis (measured or estimated) are in the scorer's "
            "`GET /v1/pnl?brand=$brand&period=$period`; compare versions before comparing periods.",
            width=4,
            height=4,
        ),
        bargauge(
            "P&L lines",
            Query(f"sum by (line) ({PNL % NOT_NET})", legend="{{line}}", instant=True),
            width=12,
            height=10,
            decimals=0,
            thresholds=PNL_THRESHOLDS,
            description="Each line of the model for the selected brand and period.",
        ),
        timeseries(
            "Net and lines over time",
            Query(f"sum by (line) ({PNL % ''})", legend="{{line}}"),
            width=12,
            height=10,
            decimals=0,
            description="The running figure of the current period as it builds up; it restarts with each period.",
        ),
        row("All brands"),
        table(
            "Net by brand",
            Query(
                'sum by (brand, currency) (cx_pnl_line_value{period="$period", line="net"})',
                instant=True,
                table=True,
            ),
            width=8,
            height=9,
            decimals=0,
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
            description="Brands keep their own currency: compare within a currency.",
        ),
        timeseries(
            "Net by brand over time",
            Query(
                'sum by (brand, currency) (cx_pnl_line_value{period="$period", line="net"})',
                legend="{{brand}} ({{currency}})",
            ),
            width=16,
            height=9,
            decimals=0,
        ),
    ]
    return dashboard(
        uid="cxpulse-executive-pnl",
        title="Executive — social P&L",
        description="What customer experience is worth this day or month, per brand, from the versioned P&L model.",
        tags=["executive", "pnl"],
        variables=[
            query_variable("brand", "Brand", "label_values(cx_pnl_line_value, brand)"),
            custom_variable("period", "Period", ["day", "month"], "month"),
        ],
        panels=panels,
        time_from="now-30d",
        refresh="5m",
    )


STAGE = '{brand="$brand", window="$window", stage=~"$stage", stage!="all"}'
BRAND_WIDE = '{brand="$brand", window="$window", stage="all"}'
NPS_THRESHOLDS = ((None, "red"), (0.0, "orange"), (30.0, "green"))
RATIO_THRESHOLDS = ((None, "red"), (0.6, "orange"), (0.8, "green"))
CES_THRESHOLDS = ((None, "red"), (4.0, "orange"), (5.0, "green"))
SENTIMENT_THRESHOLDS = ((None, "red"), (-0.1, "orange"), (0.1, "green"))


def journey_satisfaction() -> Json:
    panels = [
        row("$brand as a whole, last $window"),
        stat("NPS", Query(f"cx_stage_nps{BRAND_WIDE}"), decimals=0, thresholds=NPS_THRESHOLDS),
        stat("CSAT", Query(f"cx_stage_csat_ratio{BRAND_WIDE}"), unit="percentunit", thresholds=RATIO_THRESHOLDS),
        stat("CES (mean, 1-7)", Query(f"cx_stage_ces_mean{BRAND_WIDE}"), decimals=2, thresholds=CES_THRESHOLDS),
        stat(
            "Net sentiment",
            Query(f"cx_sentiment_net_ratio{BRAND_WIDE}"),
            unit="percentunit",
            thresholds=SENTIMENT_THRESHOLDS,
            description="(positive - negative) / judged, over surveys with comments and mentions.",
        ),
        stat("Responses", Query(f"cx_stage_responses{BRAND_WIDE}"), decimals=0),
        stat("Mentions", Query(f"cx_stage_mentions{BRAND_WIDE}"), decimals=0),
        row("Per journey stage"),
        bargauge(
            "NPS by stage",
            Query(f"cx_stage_nps{STAGE}", legend="{{stage}}", instant=True),
            width=6,
            height=10,
            minimum=-100,
            maximum=100,
            decimals=0,
            thresholds=NPS_THRESHOLDS,
            description="Stages below the response minimum are left out rather than shown as a misleading figure.",
        ),
        bargauge(
            "CSAT by stage",
            Query(f"cx_stage_csat_ratio{STAGE}", legend="{{stage}}", instant=True),
            width=6,
            height=10,
            unit="percentunit",
            minimum=0,
            maximum=1,
            thresholds=RATIO_THRESHOLDS,
        ),
        bargauge(
            "CES by stage",
            Query(f"cx_stage_ces_mean{STAGE}", legend="{{stage}}", instant=True),
            width=6,
            height=10,
            minimum=1,
            maximum=7,
            decimals=2,
            thresholds=CES_THRESHOLDS,
            description="Mean effort on 1-7; higher is easier.",
        ),
        bargauge(
            "Net sentiment by stage",
            Query(f"cx_sentiment_net_ratio{STAGE}", legend="{{stage}}", instant=True),
            width=6,
            height=10,
            unit="percentunit",
            minimum=-1,
            maximum=1,
            thresholds=SENTIMENT_THRESHOLDS,
        ),
        table(
            "Volume by stage",
            Query(f"cx_stage_responses{STAGE}", instant=True, table=True),
            Query(f"cx_stage_mentions{STAGE}", instant=True, table=True),
            Query(f"cx_stage_reach{STAGE}", instant=True, table=True),
            width=8,
            height=10,
            decimals=0,
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "__name__": True, "brand": True, "window": True},
                        "renameByName": {"Value #A": "responses", "Value #B": "mentions", "Value #C": "reach"},
                    },
                },
            ],
        ),
        timeseries(
            "NPS over time",
            Query(f"cx_stage_nps{STAGE}", legend="{{stage}}"),
            width=8,
            height=10,
            minimum=-100,
            maximum=100,
            decimals=0,
        ),
        timeseries(
            "Net sentiment over time",
            Query(f"cx_sentiment_net_ratio{STAGE}", legend="{{stage}}"),
            width=8,
            height=10,
            unit="percentunit",
            minimum=-1,
            maximum=1,
        ),
    ]
    return dashboard(
        uid="cxpulse-journey-satisfaction",
        title="Journey satisfaction",
        description="NPS, CSAT, CES and sentiment per brand and journey stage over rolling event-time windows.",
        tags=["journey", "satisfaction"],
        variables=[
            query_variable("brand", "Brand", "label_values(cx_stage_responses, brand)"),
            custom_variable("window", "Window", ["1h", "24h", "7d"], "24h"),
            query_variable(
                "stage",
                "Stage",
                'label_values(cx_stage_responses{brand="$brand", stage!="all"}, stage)',
                multi=True,
            ),
        ],
        panels=panels,
        time_from="now-7d",
    )


INCIDENTS = 'cx_alerts_incidents_open{brand=~"$brand", team=~"$team"%s}'
SEVERE = ', severity=~"4|5"'
TTA = "cx_alerts_time_to_acknowledge_seconds_bucket"


def crisis_incidents() -> Json:
    panels = [
        row("Open now"),
        stat("Open incidents", Query(f"sum({INCIDENTS % ''}) or vector(0)"), decimals=0),
        stat(
            "Severe (4-5)",
            Query(f"sum({INCIDENTS % SEVERE}) or vector(0)"),
            decimals=0,
            thresholds=((None, "green"), (1.0, "red")),
        ),
        stat(
            "Median time to acknowledge",
            Query(f"histogram_quantile(0.5, sum by (le) (increase({TTA}[$__range])))"),
            unit="s",
            thresholds=((None, "green"), (900.0, "orange"), (1800.0, "red")),
            description="Over the dashboard's time range, across all teams.",
        ),
        stat(
            "90th percentile time to acknowledge",
            Query(f"histogram_quantile(0.9, sum by (le) (increase({TTA}[$__range])))"),
            unit="s",
            thresholds=((None, "green"), (1800.0, "orange"), (3600.0, "red")),
        ),
        stat(
            "Notifications parked",
            Query("sum(cx_alerts_outbox_parked) or vector(0)"),
            decimals=0,
            thresholds=((None, "green"), (1.0, "red")),
            description="Notifications a team never received; they wait for an operator.",
        ),
        stat(
            "Signals (range)",
            Query("sum(increase(cx_alerts_signals_total[$__range]))"),
            decimals=0,
            description="Anomalies the detectors raised over the time range, before grouping into incidents.",
        ),
        table(
            "Open incidents by team and severity",
            Query(f"sum by (team, severity) ({INCIDENTS % ''})", instant=True, table=True),
            width=8,
            height=10,
            decimals=0,
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "open"}}},
                {"id": "sortBy", "options": {"sort": [{"field": "severity", "desc": True}]}},
            ],
        ),
        timeseries(
            "Open incidents by team",
            Query(f"sum by (team) ({INCIDENTS % ''})", legend="{{team}}"),
            stacked=True,
            width=8,
            height=10,
            decimals=0,
        ),
        timeseries(
            "Open incidents by severity",
            Query(f"sum by (severity) ({INCIDENTS % ''})", legend="severity {{severity}}"),
            stacked=True,
            width=8,
            height=10,
            decimals=0,
        ),
        row("Detection and response"),
        timeseries(
            "Open incidents by brand",
            Query(f"sum by (brand) ({INCIDENTS % ''})", legend="{{brand}}"),
            stacked=True,
            width=8,
            height=9,
            decimals=0,
        ),
        timeseries(
            "Time to acknowledge",
            Query(f"histogram_quantile(0.5, sum by (le) (rate({TTA}[1h])))", legend="median"),
            Query(f"histogram_quantile(0.9, sum by (le) (rate({TTA}[1h])))", legend="90th percentile"),
            width=8,
            height=9,
            unit="s",
            description="Over the preceding hour at each point.",
        ),
        timeseries(
            "Signals by detector",
            Query("sum by (detector) (rate(cx_alerts_signals_total[$__rate_interval]))", legend="{{detector}}"),
            width=8,
            height=9,
            unit="ops",
        ),
        timeseries(
            "Notifications by receiver and result",
            Query(
                "sum by (receiver, result) (rate(cx_alerts_notifications_total[$__rate_interval]))",
                legend="{{receiver}} {{result}}",
            ),
            width=24,
            height=8,
            unit="ops",
        ),
    ]
    return dashboard(
        uid="cxpulse-crisis-incidents",
        title="Crisis and incidents",
        description=(
            "Open incidents by owning team and severity, how fast teams acknowledge, and whether they hear of it."
        ),
        tags=["incidents", "crisis"],
        variables=[
            query_variable("brand", "Brand", "label_values(cx_alerts_incidents_open, brand)", multi=True),
            query_variable("team", "Team", "label_values(cx_alerts_incidents_open, team)", multi=True),
        ],
        panels=panels,
    )


WEBHOOKS = 'route=~"/v1/.+"'
RATE = "[$__rate_interval]"


def pipeline_operations() -> Json:
    panels = [
        row("Service level"),
        stat(
            "Ingest rate",
            Query(f"sum(rate(cx_collector_events_accepted_total{RATE}))"),
            unit="ops",
            description="Events published to cx.feedback.v1 per second.",
        ),
        stat(
            "Webhook errors (5m)",
            Query("cxpulse:webhook_error:ratio_rate5m"),
            unit="percentunit",
            thresholds=((None, "green"), (0.001, "orange"), (0.0144, "red")),
            description="Share of webhook requests answered 5xx; the SLO allows 0.1%.",
        ),
        stat(
            "End-to-end lag",
            Query("cxpulse:pipeline_lag_seconds:estimate"),
            unit="s",
            thresholds=((None, "green"), (300.0, "orange"), (1800.0, "red")),
            description="Estimated wait of an event now arriving before alerts reads it.",
        ),
        stat(
            "Scorer lag",
            Query("sum(cx_scorer_consumer_lag)"),
            decimals=0,
            description="Records of cx.feedback.v1 behind, consumer group cx-scorer.",
        ),
        stat(
            "Alerts lag",
            Query("sum(cx_alerts_consumer_lag)"),
            decimals=0,
            description="Records of cx.feedback.scored.v1 behind, consumer group cx-alerts.",
        ),
        stat(
            "Targets up",
            Query('count(up{job=~"collector|scorer|alerts"} == 1) or vector(0)'),
            decimals=0,
            description="Replicas Prometheus scrapes successfully.",
        ),
        row("Collector"),
        timeseries(
            "Accepted events by channel and kind",
            Query(
                f"sum by (channel, kind) (rate(cx_collector_events_accepted_total{RATE}))",
                legend="{{channel}} {{kind}}",
            ),
            stacked=True,
            width=8,
            unit="ops",
        ),
        timeseries(
            "Duplicates by channel",
            Query(f"sum by (channel) (rate(cx_collector_events_duplicate_total{RATE}))", legend="{{channel}}"),
            width=8,
            unit="ops",
            description="Events re-sent by their source; answered 202 and not published again.",
        ),
        timeseries(
            "Rejections by reason",
            Query(f"sum by (reason) (rate(cx_collector_rejections_total{RATE}))", legend="{{reason}}"),
            stacked=True,
            width=8,
            unit="ops",
        ),
        timeseries(
            "Webhook requests by status",
            Query(f"sum by (status) (rate(cx_collector_requests_total{{{WEBHOOKS}}}{RATE}))", legend="{{status}}"),
            stacked=True,
            width=12,
            unit="reqps",
        ),
        timeseries(
            "Broker acknowledgement latency",
            Query(
                f"histogram_quantile(0.5, sum by (le) (rate(cx_collector_publish_seconds_bucket{RATE})))",
                legend="median",
            ),
            Query(
                f"histogram_quantile(0.99, sum by (le) (rate(cx_collector_publish_seconds_bucket{RATE})))",
                legend="99th percentile",
            ),
            width=12,
            unit="s",
            description="From publish to the broker's acknowledgement (acks=all); past 5 s webhooks get 503.",
        ),
        row("Scorer and alerts"),
        timeseries(
            "Consumer lag",
            Query("sum(cx_scorer_consumer_lag)", legend="cx-scorer"),
            Query("sum(cx_alerts_consumer_lag)", legend="cx-alerts"),
            width=8,
            description="Records behind the log end; replicas scale on it up to the partition count (12).",
        ),
        timeseries(
            "Scored events by outcome",
            Query(f"sum by (outcome) (rate(cx_scorer_events_total{RATE}))", legend="{{outcome}}"),
            stacked=True,
            width=8,
            unit="ops",
        ),
        timeseries(
            "Dead letters",
            Query(f"sum(rate(cx_scorer_dead_letters_total{RATE}))", legend="to cx.feedback.dlq.v1"),
            width=8,
            unit="ops",
            thresholds=((None, "green"), (0.0001, "red")),
        ),
        timeseries(
            "Kafka transactions",
            Query(f"sum by (result) (rate(cx_scorer_transactions_total{RATE}))", legend="{{result}}"),
            width=8,
            unit="ops",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "aborted"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}],
                }
            ],
        ),
        timeseries(
            "Batch duration",
            Query(
                f"histogram_quantile(0.5, sum by (le) (rate(cx_scorer_batch_seconds_bucket{RATE})))",
                legend="median",
            ),
            Query(
                f"histogram_quantile(0.99, sum by (le) (rate(cx_scorer_batch_seconds_bucket{RATE})))",
                legend="99th percentile",
            ),
            width=8,
            unit="s",
            description="Score, aggregate and commit one polled batch in one transaction.",
        ),
        timeseries(
            "API requests by service and status",
            Query(
                f"sum by (job, status) (rate(cx_http_requests_total{RATE}))",
                legend="{{job}} {{status}}",
            ),
            width=8,
            unit="reqps",
        ),
        row("Notifications"),
        timeseries(
            "Notification retries by receiver",
            Query(
                f'sum by (receiver) (rate(cx_alerts_notifications_total{{result="retried"}}{RATE}))',
                legend="{{receiver}}",
            ),
            width=8,
            unit="ops",
        ),
        timeseries(
            "Parked notifications by receiver",
            Query(
                f'sum by (receiver) (increase(cx_alerts_notifications_total{{result="parked"}}{RATE}))',
                legend="{{receiver}}",
            ),
            width=8,
            decimals=0,
        ),
        timeseries(
            "Outbox",
            Query("sum(cx_alerts_outbox_due)", legend="due"),
            Query("sum(cx_alerts_outbox_parked)", legend="parked"),
            width=8,
            decimals=0,
        ),
    ]
    return dashboard(
        uid="cxpulse-pipeline-operations",
        title="Pipeline operations",
        description="Ingest, rejections, consumer lag, dead letters, transactions and notification delivery.",
        tags=["operations"],
        variables=[],
        panels=panels,
        time_from="now-6h",
        refresh="30s",
    )


DASHBOARDS: dict[str, Callable[[], Json]] = {
    "executive-pnl.json": executive_pnl,
    "journey-satisfaction.json": journey_satisfaction,
    "crisis-incidents.json": crisis_incidents,
    "pipeline-operations.json": pipeline_operations,
}


def render(build: Callable[[], Json]) -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail instead of writing when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        expected = render(build)
        if path.exists() and path.read_text(encoding="utf-8") == expected:
            continue
        stale.append(path)
        if not args.check:
            DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(expected, encoding="utf-8")
    unknown = sorted(set(DASHBOARDS_DIR.glob("*.json")) - {DASHBOARDS_DIR / name for name in DASHBOARDS})
    if args.check:
        for path in stale:
            sys.stderr.write(f"{path} is stale: run deploy/grafana/generate.py\n")
        for path in unknown:
            sys.stderr.write(f"{path} is not built by deploy/grafana/generate.py: delete it\n")
        return 1 if stale or unknown else 0
    for path in stale:
        sys.stderr.write(f"wrote {path}\n")
    for path in unknown:
        path.unlink()
        sys.stderr.write(f"removed {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
