"""``scrapewatch bench --latency``: end-to-end alert latency of an injected burst scraper.

A fresh worker (short windows, default 10 s) on fresh topics:

1. **history**: ``history`` hours of simulated benign traffic ending two windows ago, read
   as fast as the worker can: the account models score nothing before ~200 learned
   windows per partition, so a cold worker would never alert;
2. **live**, event time = wall clock: ``background`` benign accounts (a request every ~2 s
   each, on every partition, so every partition's watermark keeps moving) for ``warmup``
   windows, then one burst scraper (``detectors.scenarios.burst_scraper``: 15-40
   requests/s walking user profiles by sequential id) from a window boundary for
   ``windows`` windows, then background until the scraper's last window has closed by
   watermark. A confluent consumer follows the alerts topic in a thread and notes when
   each alert arrives.

For every scraper event, latency = arrival of the first alert for that entity whose window
holds the event's ``ts``, minus the time the event was produced (``ts`` *is* that time);
0 when that alert arrived before the event (early firing, or a window closed too soon:
``events_after_their_alert`` counts them). The cooldown (one alert per entity per 15 min
unless the severity rises) means the later windows of one scraper usually have no alert
of their own: their events are ``events_without_alert``, not given a latency. p50/p99
are nearest-rank. Expect p99 of about window + lateness while windows close by watermark
only.

Why not the pipeline run's worker: the window length is a worker setting, and the
pipeline run keeps the default (60 s) so that its throughput is that of the real
configuration; latency on it would take minutes per window. The report gives the window,
lateness and idle close used (the worker's defaults unless given).
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, Producer

from detectors.scenarios import burst_scraper
from detectors.simulator import SimConfig, Simulation
from detectors.site import SCRIPTED_AGENTS
from stream.alerts import decode_alert
from stream.bench import PROCESSED, BenchError, Echo, Workers, fresh_run
from stream.benchmemory import account_request
from stream.codec import dumps
from stream.feed import event_key, send_events
from stream.kafka.config import consumer_config, producer_config
from stream.settings import Settings

__all__ = ["latency_line", "percentile", "run_latency"]

SCRAPER = "bench-burst-scraper"
_BACKGROUND_GAP_S = 2.0  # mean seconds between two requests of one background account


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank ``q`` percentile (0 < q <= 100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class _Follower(threading.Thread):
    """Reads the alerts topic; keeps (arrival wall time, alert) of one entity's alerts."""

    def __init__(self, settings: Settings, entity: str) -> None:
        super().__init__(name="bench-alert-follower", daemon=True)
        self.entity = entity
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        self.seen = 0
        self.stopping = threading.Event()
        self.consumer = Consumer(
            consumer_config(
                settings, group_id=f"{settings.app_id}-latency", extra={"fetch.wait.max.ms": 10}
            )
        )
        self.consumer.subscribe([settings.topic_alerts])

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for msg in self.consumer.consume(100, 0.05):
                    arrived = time.time()
                    if msg.error() is not None:
                        continue
                    alert = decode_alert(msg.value() or b"")
                    self.seen += 1
                    if alert["entity"] == self.entity:
                        self.alerts.append((arrived, alert))
        finally:
            self.consumer.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def _traffic(
    rng: random.Random, background: int, start: float, scraper_from: float, scraper_to: float
) -> Iterator[tuple[float, dict[str, Any]]]:
    """(due wall time, event) of the background accounts and the scraper, in time order."""
    heap: list[tuple[float, int]] = [
        (start + rng.uniform(0, _BACKGROUND_GAP_S), i) for i in range(background)
    ]
    heapq.heapify(heap)
    scraper = burst_scraper(
        rng,
        account=SCRAPER,
        ip="198.51.100.77",
        agent=SCRIPTED_AGENTS[0],
        start_ms=int(scraper_from * 1000),
        end_ms=int(scraper_to * 1000),
        route_share=1 / 3,
    )
    pending = [ev for burst in scraper for _ms, ev in burst]  # ~40/s: a few thousand
    k = 0
    while True:
        due, i = heap[0]
        if k < len(pending) and pending[k]["ts"] <= due:
            yield float(pending[k]["ts"]), pending[k]
            k += 1
            continue
        heapq.heapreplace(heap, (due + rng.expovariate(1 / _BACKGROUND_GAP_S), i))
        account = f"bench-bg-{i:04d}"
        yield (
            due,
            account_request(
                rng, account, f"10.77.{i // 250}.{i % 250 + 1}", due, rng.random() < 0.05
            ),
        )


def _history(  # noqa: PLR0917  (private: one call site)
    settings: Settings, worker: Workers, hours: float, window: int, seed: int, echo: Echo
) -> int:
    """``hours`` of simulated benign traffic ending two windows ago, processed before the
    live part: the models learn what normal is (they score nothing before ~200 windows)."""
    start = time.time() - hours * 3600 - 2 * window
    sim = Simulation(SimConfig(seed=seed, hours=hours, start=start, scenarios=frozenset()))
    stats = send_events(producer_config(settings), settings.topic_requests, sim.events())
    deadline = time.monotonic() + 600
    while worker.metric(PROCESSED) < stats.sent:
        worker.check()
        if time.monotonic() > deadline:
            raise BenchError(f"the latency worker did not process its history; see {worker.logs}")
        time.sleep(0.25)
    echo(f"bench: latency: {stats.sent:,} events of history ({hours} h) processed")
    return stats.sent


def run_latency(
    base: Settings,
    *,
    window: int = 10,
    lateness: int | None = None,
    windows: int = 3,
    warmup: int = 1,
    history: float = 0.5,
    background: int = 300,
    idle_close: int = 10,
    partitions: int = 6,
    seed: int = 7,
    echo: Echo,
) -> dict[str, Any]:
    """Measure the alert latency of a burst scraper on a fresh worker; return the figures."""
    lateness = base.allowed_lateness_seconds if lateness is None else lateness
    updates = {
        "window_seconds": window,
        "allowed_lateness_seconds": lateness,
        "requests_partitions": partitions,
        "idle_close_seconds": idle_close,
    }
    rng = random.Random(seed)
    echo(
        f"bench: latency: worker with {window} s windows, lateness {lateness} s; "
        f"{background} background accounts, burst scraper for {windows} windows"
    )
    produced: list[float] = []
    with fresh_run(base, "lat", **updates) as settings, Workers(settings) as worker:
        worker.wait_ready()
        history_events = _history(settings, worker, history, window, seed, echo) if history else 0
        follower = _Follower(settings, SCRAPER)
        follower.start()
        try:
            now = time.time()
            scraper_from = math.ceil((now + warmup * window) / window) * window
            scraper_to = scraper_from + windows * window
            stop_at = scraper_to + lateness + 3.0  # the last window closes by watermark
            config = dict(producer_config(settings))
            config["partitioner"] = "murmur2_random"
            producer = Producer(config)
            last_check = time.monotonic()
            for due, ev in _traffic(rng, background, now, scraper_from, scraper_to):
                if due >= stop_at:
                    break
                while (wait := due - time.time()) > 0:
                    producer.poll(min(wait, 0.02))
                ts = round(time.time(), 3)
                ev["ts"] = ts
                producer.produce(settings.topic_requests, value=dumps(ev), key=event_key(ev))
                if ev.get("account") == SCRAPER:
                    produced.append(ts)
                if time.monotonic() - last_check > 1.0:
                    worker.check()
                    producer.poll(0)
                    last_check = time.monotonic()
            producer.flush(10)
            deadline = time.time() + 5.0  # alerts in flight
            while time.time() < deadline:
                time.sleep(0.2)
            late = worker.metric('scrapewatch_events_total{result="late"}')
        finally:
            follower.stop()
    report = _figures(produced, follower.alerts, window)
    report.update(
        {
            "window_seconds": window,
            "lateness_seconds": lateness,
            "idle_close_seconds": idle_close,
            "scraper_windows": windows,
            "background_accounts": background,
            "history_hours": history,
            "history_events": history_events,
            "alerts_on_topic": follower.seen,
            "late_events": late,
            "target_p99_seconds": window + 2.0,
        }
    )
    return report


def _figures(
    produced: list[float], alerts: list[tuple[float, dict[str, Any]]], window: int
) -> dict[str, Any]:
    """Latency per scraper event from the first alert of the window holding it (0 when
    that alert came before the event: early firing, or a window closed too soon)."""
    first: dict[float, float] = {}  # window start -> arrival of its first alert
    for arrived, alert in alerts:
        start = float(alert["window"]["start"])
        first[start] = min(first.get(start, arrived), arrived)
    latencies, early = [], 0
    for ts in produced:
        start = math.floor(ts / window) * window
        if start in first:
            latency = first[start] - ts
            early += latency < 0
            latencies.append(max(0.0, latency))
    return {
        "scraper_events": len(produced),
        "events_with_alert": len(latencies),
        "events_without_alert": len(produced) - len(latencies),
        "events_after_their_alert": early,
        "alerts_for_scraper": len(alerts),
        "alerted_windows": sorted(first),
        "p50_seconds": percentile(latencies, 50),
        "p99_seconds": percentile(latencies, 99),
        "max_seconds": max(latencies) if latencies else None,
    }


def latency_line(lat: dict[str, Any]) -> str:
    """One table line for the report of :func:`run_latency`."""
    p50, p99 = lat["p50_seconds"], lat["p99_seconds"]
    figures = f"p50 {p50:.2f} s, p99 {p99:.2f} s" if p50 is not None and p99 is not None else "-"
    return (
        f"alert latency, burst scraper (window {lat['window_seconds']} s, lateness "
        f"{lat['lateness_seconds']} s): {figures} over {lat['events_with_alert']} of "
        f"{lat['scraper_events']} events (target p99 <= {lat['target_p99_seconds']:.0f} s)"
    )
