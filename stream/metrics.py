"""Prometheus metrics of a worker, grouped in one object (the faust sensor pattern).

Label sets are bounded by construction: results, DLQ reasons, detectors, severities, entity
types, partitions and *known* routes only. No account, IP or raw path ever becomes a label
value. Counters are bumped per batch, never per event with labels (see PERFORMANCE.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "create"]

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_SCORE_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 50, 100)


@dataclass(slots=True)
class Metrics:
    """Every metric a worker exports; build it with :func:`create`."""

    registry: CollectorRegistry
    events: Counter
    dlq: Counter
    batch_latency: Histogram
    event_lag: Histogram
    consumer_lag: Gauge
    windows_closed: Counter
    entities: Gauge
    entities_expired: Counter
    refetched: Counter
    alerts: Counter
    scores: Histogram
    model_info: Gauge
    model_loaded_at: Gauge
    endpoint_requests: Counter
    ready: Gauge
    known_routes: frozenset[str]

    def count_events(self, counts: Mapping[str, int]) -> None:
        """Add a batch's events by result (valid, rejected, late, duplicate, kafka_error)."""
        for result, n in counts.items():
            if n:
                self.events.labels(result).inc(n)

    def count_dlq(self, reasons: Mapping[str, int]) -> None:
        """Add a batch's DLQ records by rejection reason (a fixed set)."""
        for reason, n in reasons.items():
            if n:
                self.dlq.labels(reason).inc(n)

    def count_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Count alerts by detector, severity and entity type."""
        for alert in alerts:
            self.alerts.labels(alert["detector"], alert["severity"], alert["entity_type"]).inc()

    def observe_scores(self, scores: Mapping[str, Iterable[float]]) -> None:
        """Record the scores of closed windows, per detector."""
        for detector, values in scores.items():
            hist = self.scores.labels(detector)
            for v in values:
                hist.observe(v)

    def count_endpoints(self, requests_by_endpoint: Mapping[str, int]) -> None:
        """Per-endpoint request counts; unknown routes are folded into ``other``."""
        other = 0
        for endpoint, n in requests_by_endpoint.items():
            if endpoint in self.known_routes:
                self.endpoint_requests.labels(endpoint).inc(n)
            else:
                other += n
        if other:
            self.endpoint_requests.labels("other").inc(other)

    def set_model(self, version: str) -> None:
        """Mark ``version`` as the model in use (an info-style gauge) and when it was loaded."""
        self.model_info.clear()
        self.model_info.labels(version).set(1)
        self.model_loaded_at.set(time.time())


def create(
    registry: CollectorRegistry | None = None,
    prefix: str = "scrapewatch",
    known_routes: Iterable[str] = (),
) -> Metrics:
    """Build the metrics on ``registry`` (a fresh one when omitted: never the global)."""
    reg = registry if registry is not None else CollectorRegistry()

    def name(n: str) -> str:
        return f"{prefix}_{n}"

    return Metrics(
        registry=reg,
        events=Counter(name("events"), "Request events by result.", ["result"], registry=reg),
        dlq=Counter(
            name("dlq"),
            "Messages sent to the dead-letter topic by reason.",
            ["reason"],
            registry=reg,
        ),
        batch_latency=Histogram(
            name("batch_processing_seconds"),
            "Time to process one batch of events.",
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
        event_lag=Histogram(
            name("processing_latency_seconds"),
            "Wall-clock delay from a message's Kafka timestamp to its processing (per batch).",
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
        consumer_lag=Gauge(
            name("consumer_lag_messages"),
            "Messages behind the end of each assigned requests partition.",
            ["partition"],
            registry=reg,
        ),
        windows_closed=Counter(
            name("windows_closed"), "Windows closed and scored.", ["stage"], registry=reg
        ),
        entities=Gauge(
            name("entities_tracked"), "Entities with state in this worker.", ["kind"], registry=reg
        ),
        entities_expired=Counter(
            name("entities_expired"),
            "Entities forgotten after entity_ttl without activity (state deleted).",
            registry=reg,
        ),
        refetched=Counter(
            name("refetched"),
            "Messages the stream consumer skipped, read again by offset and processed in order.",
            ["stage"],
            registry=reg,
        ),
        alerts=Counter(
            name("alerts"), "Alerts emitted.", ["detector", "severity", "entity_type"], registry=reg
        ),
        scores=Histogram(
            name("score"),
            "Scores of closed windows by detector.",
            ["detector"],
            buckets=_SCORE_BUCKETS,
            registry=reg,
        ),
        model_info=Gauge(
            name("model_info"),
            "The model version in use (value 1).",
            ["model_version"],
            registry=reg,
        ),
        model_loaded_at=Gauge(
            name("model_loaded_timestamp_seconds"),
            "When the model in use was loaded (epoch seconds).",
            registry=reg,
        ),
        endpoint_requests=Counter(
            name("endpoint_requests"),
            "Requests per known route (others folded into 'other').",
            ["endpoint"],
            registry=reg,
        ),
        ready=Gauge(
            name("ready"), "1 once partitions are assigned and state is recovered.", registry=reg
        ),
        known_routes=frozenset(known_routes),
    )
