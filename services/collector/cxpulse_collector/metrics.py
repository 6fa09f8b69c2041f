"""The collector's Prometheus metrics, registered on the registry its app was given."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class CollectorMetrics:
    requests: Counter
    events_accepted: Counter
    events_duplicate: Counter
    rejections: Counter
    publish_seconds: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> CollectorMetrics:
        return cls(
            requests=Counter(
                "cx_collector_requests",
                "Webhook requests by route and status",
                ["route", "status"],
                registry=registry,
            ),
            events_accepted=Counter(
                "cx_collector_events_accepted",
                "Events published to the broker",
                ["channel", "kind"],
                registry=registry,
            ),
            events_duplicate=Counter(
                "cx_collector_events_duplicate",
                "Events already published before",
                ["channel"],
                registry=registry,
            ),
            rejections=Counter("cx_collector_rejections", "Requests refused, by reason", ["reason"], registry=registry),
            publish_seconds=Histogram(
                "cx_collector_publish_seconds",
                "Time from publish to the broker's acknowledgement of a batch's events (the requests of one loop turn)",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                registry=registry,
            ),
        )
