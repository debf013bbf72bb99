"""Shared steps of the end-to-end tests: simulate, feed, read the alerts topic back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer

from detectors.simulator import SimConfig, Simulation
from stream.alerts import decode_alert
from stream.feed import FeedStats, send_events
from stream.kafka.config import consumer_config, producer_config
from stream.settings import Settings


def simulate(
    hours: float = 2.0, benign: int = 400, anonymous: int = 150, seed: int = 7, **kwargs: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A short labelled simulation with every scenario: (events, labels)."""
    sim = Simulation(
        SimConfig(
            seed=seed, hours=hours, benign_accounts=benign, anonymous_visitors=anonymous, **kwargs
        )
    )
    return list(sim.events()), sim.labels()


def feed(settings: Settings, events: Iterable[dict[str, Any]]) -> FeedStats:
    return send_events(producer_config(settings), settings.topic_requests, events)


def read_topic(
    settings: Settings, topic: str, idle: float = 4.0, timeout: float = 60.0
) -> list[Any]:
    """Every message of ``topic`` from the beginning, until ``idle`` seconds bring none."""
    consumer = Consumer(consumer_config(settings, group_id=f"read-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - last < idle:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    out.append(msg)
                    last = time.monotonic()
    finally:
        consumer.close()
    return out


def read_alerts(settings: Settings, idle: float = 4.0) -> list[dict[str, Any]]:
    """The alerts topic decoded (and so validated against alert.v1)."""
    return [decode_alert(m.value()) for m in read_topic(settings, settings.topic_alerts, idle)]


def named(alerts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Alerts by every entity they name: the entity itself and campaign members."""
    by: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        by.setdefault(a["entity"], []).append(a)
        for member in a["evidence"].get("members", []):
            by.setdefault(member, []).append(a)
    return by


def parity_key(alert: dict[str, Any]) -> tuple[str, str, str, float]:
    """What the parity tests compare: entity, detector and window."""
    return (alert["entity_type"], alert["entity"], alert["detector"], alert["window"]["start"])


def wait_caught_up(workers: Iterable[Any], settle: float = 6.0, timeout: float = 180.0) -> None:
    """Until every worker's ingest lag is zero and the processed counts stop moving."""
    workers = list(workers)
    deadline = time.monotonic() + timeout
    last, since, lag = -1.0, time.monotonic(), -1.0
    while time.monotonic() < deadline:
        processed = sum(w.metric("scrapewatch_events_total", result="processed") for w in workers)
        lag = sum(w.metric("scrapewatch_consumer_lag_messages") for w in workers)
        if processed != last:
            last, since = processed, time.monotonic()
        elif lag == 0 and time.monotonic() - since >= settle:
            return
        time.sleep(0.5)
    raise AssertionError(f"workers did not catch up: processed {last}, lag {lag}")
