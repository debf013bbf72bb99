"""``scrapewatch bench``: one worker against the physical limit, on the same topic, in one run.

1. produce N simulator events (one JSON event per message) into a fresh topic with P
   partitions, then one *closing* event per partition far enough ahead in event time that
   every window of the N events closes by watermark;
2. **raw**: a confluent-kafka consumer doing ``consume(1000)`` + orjson decode over that
   topic: the practical limit of Python on this machine;
3. **pipeline**: ``scrapewatch worker`` processes (1, and optionally more) from ready until
   every event is processed and every window of them closed and scored;
4. prints a table and one JSON object (rates, ratio, peak RSS, machine).
"""

from __future__ import annotations

import itertools
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import Consumer

from detectors.partitioning import partition_for
from detectors.simulator import SimConfig, Simulation
from stream.codec import loads
from stream.feed import send_events
from stream.kafka.admin import create_topics, new_admin
from stream.kafka.config import consumer_config, producer_config
from stream.probe import free_port, metric, ready
from stream.settings import Settings, child_env
from stream.topics import project_topics

__all__ = ["run_bench"]

Echo = Callable[[str], None]
KAFKA_VERSION = "4.4.0"


def _events(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` events of the simulator's mix (benign traffic plus every scenario)."""
    hours = max(0.25, 6.0 * n / 700_000)
    yield from itertools.islice(Simulation(SimConfig(seed=seed, hours=hours)).events(), n)


def _closers(partitions: int, ts: float) -> list[dict[str, Any]]:
    """One event per partition at ``ts``: moves every partition's watermark past the data."""
    out: list[dict[str, Any]] = []
    p_seen: set[int] = set()
    i = 0
    while len(p_seen) < partitions:
        ip = f"192.0.2.{i % 250}"
        key = f"bench-closer-{i}"
        p = partition_for(key, partitions)
        if p not in p_seen:
            p_seen.add(p)
            out.append(
                {
                    "ts": ts,
                    "client_ip": ip,
                    "method": "GET",
                    "path": "/health",
                    "status": 200,
                    "account": key,
                }
            )
        i += 1
    return out


def _raw(settings: Settings, topic: str, total: int) -> tuple[float, int]:
    consumer = Consumer(consumer_config(settings, group_id=f"bench-raw-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    n, started = 0, None
    deadline = time.monotonic() + 600
    while n < total and time.monotonic() < deadline:
        msgs = consumer.consume(1000, 1.0)
        if msgs and started is None:
            started = time.perf_counter()
        for m in msgs:
            if m.error() is None:
                loads(m.value() or b"null")
                n += 1
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return elapsed, n


def _peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pipeline(settings: Settings, workers: int, total: int, echo: Echo) -> dict[str, Any]:
    app_id = f"{settings.app_id}-w{workers}-{uuid.uuid4().hex[:6]}"
    procs, ports = [], []
    for i in range(workers):
        port = free_port()
        env = child_env(settings.model_copy(update={"app_id": app_id, "metrics_port": port}))
        env["SCRAPEWATCH_LOG_LEVEL"] = "WARNING"
        log = open(f"/tmp/{app_id}-{i}.log", "wb")  # noqa: SIM115  (lives with the process)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        ports.append(port)
    try:
        deadline = time.monotonic() + 120
        while not any(ready(p) for p in ports):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"bench worker did not start; see /tmp/{app_id}-*.log")
            time.sleep(0.05)
        started = time.perf_counter()
        done, last_change, last_done = 0.0, started, -1.0
        deadline = time.monotonic() + 1800
        last_report = time.monotonic()
        sample = 'scrapewatch_events_total{result="processed"}'
        # Finished when every event was processed, nothing is left to read, and the count
        # has stood still for a second. With several workers a rebalance re-delivers
        # batches whose windows were open (at-least-once), so "processed" may pass the
        # total before the work is done: hence the lag and stillness conditions.
        while time.monotonic() < deadline:
            time.sleep(0.25)  # each scrape costs the worker a little: do not overdo it
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError(f"a bench worker died; see /tmp/{app_id}-*.log")
            done = sum(metric(p, sample) for p in ports)
            now = time.perf_counter()
            if done != last_done:
                last_done, last_change = done, now
                continue
            lag = sum(metric(p, "scrapewatch_consumer_lag_messages") for p in ports)
            if done >= total and lag == 0 and now - last_change >= 1.0:
                break
            if time.monotonic() - last_report > 10:
                echo(f"  ... {workers} worker(s): {done:,.0f} of {total:,} events")
                last_report = time.monotonic()
        elapsed = last_change - started
        windows = sum(metric(p, 'scrapewatch_windows_closed_total{stage="account"}') for p in ports)
        alerts = sum(metric(p, "scrapewatch_alerts_total") for p in ports)
        rss = max(_peak_rss(proc.pid) for proc in procs)
        return {
            "workers": workers,
            "seconds": elapsed,
            "events": float(total),
            "events_processed_incl_redelivered": done,
            "events_per_second": total / elapsed if elapsed else 0.0,
            "windows_closed": windows,
            "alerts": alerts,
            "peak_rss_bytes": rss,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_bench(
    base: Settings, *, events: int, partitions: int, workers: list[int], seed: int, echo: Echo
) -> dict[str, Any]:
    """Run the benchmark; return the figures (also printed as a table through ``echo``)."""
    run = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    settings = base.model_copy(
        update={
            "app_id": run,
            "topic_requests": f"{run}.requests",
            "topic_requests_dlq": f"{run}.requests.dlq",
            "topic_alerts": f"{run}.alerts",
            "topic_endpoint_stats": f"{run}.endpoint-stats",
            "topic_feedback": f"{run}.feedback",
            "requests_partitions": partitions,
        }
    )
    create_topics(new_admin(settings), project_topics(settings), settings.bootstrap_servers)
    echo(
        f"bench: producing {events:,} events to {settings.topic_requests} ({partitions} partitions)"
    )
    t0 = time.perf_counter()
    stats = send_events(producer_config(settings), settings.topic_requests, _events(events, seed))
    last_ts = stats.last_ts or 0.0
    send_events(
        producer_config(settings), settings.topic_requests, _closers(partitions, last_ts + 3600)
    )
    total = stats.sent + partitions
    echo(f"bench: produced {total:,} messages in {time.perf_counter() - t0:.1f} s")

    raw_s, raw_n = _raw(settings, settings.topic_requests, total)
    raw_rate = raw_n / raw_s if raw_s else 0.0
    echo(f"bench: raw consume + orjson: {raw_n:,} in {raw_s:.2f} s = {raw_rate:,.0f} events/s")
    runs = []
    for w in workers:
        result = _pipeline(settings, w, total, echo)
        runs.append(result)
        echo(
            f"bench: pipeline with {w} worker(s): {result['events']:,.0f} in "
            f"{result['seconds']:.2f} s = {result['events_per_second']:,.0f} events/s"
        )
    one = runs[0]["events_per_second"] if runs else 0.0
    report: dict[str, Any] = {
        "events": total,
        "partitions": partitions,
        "raw": {"seconds": raw_s, "events_per_second": raw_rate},
        "pipeline": runs,
        "ratio_pipeline_to_raw": one / raw_rate if raw_rate else 0.0,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "kafka": KAFKA_VERSION,
        },
    }
    if len(runs) > 1 and one:
        report["speedup"] = {
            f"{r['workers']}_workers": r["events_per_second"] / one for r in runs[1:]
        }
    echo("")
    echo(f"{'run':<22}{'events/s':>12}{'seconds':>10}{'peak RSS MiB':>14}{'vs raw':>9}")
    echo(f"{'raw consume+decode':<22}{raw_rate:>12,.0f}{raw_s:>10.2f}{'':>14}{1.0:>9.2f}")
    for r in runs:
        echo(
            f"{'pipeline ' + str(r['workers']) + ' worker(s)':<22}"
            f"{r['events_per_second']:>12,.0f}{r['seconds']:>10.2f}"
            f"{r['peak_rss_bytes'] / 2**20:>14.0f}"
            f"{r['events_per_second'] / raw_rate if raw_rate else 0:>9.2f}"
        )
    return report
