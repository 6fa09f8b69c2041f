"""Open incidents by brand, severity and team, read from the store when Prometheus scrapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cxpulse_alerts.adapters.store import RedisAlertStore


class OpenIncidentsCollector(Collector):
    def __init__(self, store: RedisAlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "cx_alerts_incidents_open", "Open or acknowledged incidents", labels=["brand", "severity", "team"]
        )
        counts: Counter[tuple[str, str, str]] = Counter()
        for brand in self._store.active_brands():
            for incident in self._store.active_for(brand).values():
                for team in incident.routing.teams or ("unowned",):
                    counts[(incident.brand, str(incident.severity), team)] += 1
        for labels, count in sorted(counts.items()):
            gauge.add_metric(list(labels), count)
        yield gauge
