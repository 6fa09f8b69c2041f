"""Satisfaction and P&L gauges for Grafana, read from Redis when Prometheus scrapes.

Labels are bounded sets (brand, stage, window, line, period). Figures below the response
minimum are left out rather than exported as a misleading number. Results are cached briefly so
frequent scrapes do not multiply Redis reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.brands import BrandCatalog
from cxpulse_scorer.domain.pnl import period_days, pnl_lines
from cxpulse_scorer.domain.satisfaction import ALL_STAGES, WINDOWS, figures

EXPORTED_WINDOWS = ("1h", "24h", "7d")
EXPORTED_PERIODS = ("day", "month")


class SatisfactionCollector(Collector):
    def __init__(self, aggregates: RedisAggregates, brands: BrandCatalog, *, min_responses: int, cache_s: float = 15.0):
        self._aggregates = aggregates
        self._brands = brands
        self._min_responses = min_responses
        self._cache_s = cache_s
        self._cached: tuple[float, list[Metric]] = (float("-inf"), [])
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            taken_at, metrics = self._cached
            if time.monotonic() - taken_at > self._cache_s:
                metrics = self._read()
                self._cached = (time.monotonic(), metrics)
        yield from metrics

    def _read(self) -> list[Metric]:
        stage_labels = ["brand", "stage", "window"]
        nps = GaugeMetricFamily("cx_stage_nps", "Net Promoter Score (-100..100) per stage", labels=stage_labels)
        csat = GaugeMetricFamily("cx_stage_csat_ratio", "Share of CSAT answers 4-5", labels=stage_labels)
        ces = GaugeMetricFamily("cx_stage_ces_mean", "Mean CES on 1-7", labels=stage_labels)
        net = GaugeMetricFamily("cx_sentiment_net_ratio", "(positive - negative) / judged", labels=stage_labels)
        responses = GaugeMetricFamily("cx_stage_responses", "Survey responses in the window", labels=stage_labels)
        mentions = GaugeMetricFamily("cx_stage_mentions", "Mentions in the window", labels=stage_labels)
        reach = GaugeMetricFamily("cx_stage_reach", "Reach of mentions in the window", labels=stage_labels)
        pnl = GaugeMetricFamily(
            "cx_pnl_line_value",
            "Social P&L line in the brand's currency",
            labels=["brand", "line", "period", "currency"],
        )
        now = datetime.now(UTC)
        for brand_slug in self._aggregates.brands():
            brand = self._brands.get(brand_slug)
            stages = [*self._aggregates.stages(brand_slug), ALL_STAGES]
            for window in EXPORTED_WINDOWS:
                counts = self._aggregates.satisfaction_many(brand_slug, stages, at=now, window=WINDOWS[window])
                for stage, stage_counts in counts.items():
                    labels = [brand_slug, "all" if stage == ALL_STAGES else stage, window]
                    derived = figures(stage_counts, min_responses=self._min_responses)
                    responses.add_metric(labels, derived.responses)
                    mentions.add_metric(labels, derived.mentions)
                    reach.add_metric(labels, derived.reach)
                    if derived.nps is not None:
                        nps.add_metric(labels, derived.nps)
                    if derived.csat is not None:
                        csat.add_metric(labels, derived.csat / 100)
                    if derived.ces_mean is not None:
                        ces.add_metric(labels, derived.ces_mean)
                    if isinstance(derived.sentiment["net"], float):
                        net.add_metric(labels, derived.sentiment["net"] / 100)
            today = now.astimezone(brand.timezone).date()
            for period in EXPORTED_PERIODS:
                counts_in_period = self._aggregates.pnl_counts(brand_slug, period_days(period, today))  # type: ignore[arg-type]
                for line in pnl_lines(counts_in_period, brand.pnl):
                    pnl.add_metric([brand_slug, line.name, period, brand.currency], line.value)
        return [nps, csat, ces, net, responses, mentions, reach, pnl]
