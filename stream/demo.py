"""``scrapewatch demo``: a worker, an accelerated simulation with every scenario, live alerts.

Runs on its own topics and consumer groups (``demo-<time>``) so that demos never mix with
each other or with real traffic, and stops everything it started when it ends or on Ctrl-C.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

from detectors.simulator import SimConfig, Simulation
from stream.alerts import decode_alert
from stream.feed import send_events
from stream.kafka.admin import create_topics, new_admin
from stream.kafka.config import consumer_config, producer_config
from stream.probe import metric, ready
from stream.settings import Settings, child_env
from stream.topics import project_topics

__all__ = ["run_demo"]

Echo = Callable[[str], None]


def demo_settings(base: Settings, run_id: str) -> Settings:
    """``base`` with topics, app id and a short idle timeout of this demo run."""
    p = f"demo-{run_id}"
    return base.model_copy(
        update={
            "app_id": p,
            "topic_requests": f"{p}.requests",
            "topic_requests_dlq": f"{p}.requests.dlq",
            "topic_alerts": f"{p}.alerts",
            "topic_endpoint_stats": f"{p}.endpoint-stats",
            "topic_feedback": f"{p}.feedback",
            "idle_close_seconds": 3,
        }
    )


def _env(settings: Settings) -> dict[str, str]:
    env = child_env(settings)
    env["SCRAPEWATCH_LOG_LEVEL"] = "WARNING"
    return env


def run_demo(base: Settings, *, hours: float, speed: float, echo: Echo) -> int:
    """Run the demo; returns the process exit code."""
    settings = demo_settings(base, time.strftime("%Y%m%d-%H%M%S"))
    create_topics(new_admin(settings), project_topics(settings), settings.bootstrap_servers)
    port = settings.metrics_port
    base_url = f"http://127.0.0.1:{port}"
    echo(f"demo: topics {settings.app_id}.*, worker metrics at {base_url}/metrics")
    log_path = f"/tmp/{settings.app_id}-worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "worker"],
            env=_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stop = threading.Event()
    interrupted = False

    def on_sigint(_sig: int, _frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigint)
    try:
        if not _wait_ready(port, worker, stop):
            echo(f"demo: the worker did not become ready; its log is {log_path}")
            return 1
        sim = Simulation(SimConfig(hours=hours))
        labels = {lab["entity"]: lab["scenario"] for lab in sim.labels()}
        sent = {"n": 0, "done": False}

        def produce() -> None:
            def until_stopped() -> Any:
                for ev in sim.events():
                    if stop.is_set():
                        return
                    yield ev

            stats = send_events(
                producer_config(settings),
                settings.topic_requests,
                until_stopped(),
                speed=speed,
                progress=lambda n, _ts: sent.update(n=n),
                progress_every=0.2,
            )
            sent.update(n=stats.sent, done=True)

        feeder = threading.Thread(target=produce, name="demo-feed", daemon=True)
        feeder.start()
        by_scenario = _follow(settings, port=port, labels=labels, sent=sent, stop=stop, echo=echo)
        processed = metric(port, 'scrapewatch_events_total{result="processed"}')
        echo("")
        echo("demo summary" + (" (interrupted)" if interrupted else ""))
        echo(f"  events sent {sent['n']:,}, processed {processed:,.0f}")
        for scenario, count in sorted(by_scenario.items()):
            echo(f"  alerts naming {scenario:<22} {count}")
        echo(f"  metrics: {base_url}/metrics (while a worker runs); worker log: {log_path}")
        return 130 if interrupted else 0
    finally:
        stop.set()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
        signal.signal(signal.SIGINT, previous)


def _wait_ready(port: int, worker: subprocess.Popen[bytes], stop: threading.Event) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stop.is_set():
        if worker.poll() is not None:
            return False
        if ready(port):
            return True
        time.sleep(0.3)
    return False


def _follow(
    settings: Settings,
    *,
    port: int,
    labels: dict[str, str],
    sent: dict[str, Any],
    stop: threading.Event,
    echo: Echo,
) -> Counter[str]:
    """Print alerts as they arrive and a progress line; return alerts per scenario."""
    consumer = Consumer(consumer_config(settings, group_id=f"{settings.app_id}-demo-tail"))
    consumer.subscribe([settings.topic_alerts])
    by_scenario: Counter[str] = Counter()
    last_progress = 0.0
    quiet_since: float | None = None
    try:
        while not stop.is_set():
            for msg in consumer.consume(100, 0.5):
                if msg.error() is not None:
                    continue
                alert = decode_alert(msg.value() or b"")
                names = {alert["entity"], *alert["evidence"].get("members", [])}
                unlabelled = "endpoints" if alert["entity_type"] == "endpoint" else "unlabelled"
                scenarios = sorted({labels[n] for n in names if n in labels}) or [unlabelled]
                for s in scenarios:
                    by_scenario[s] += 1
                who = f"{alert['entity_type']}:{alert['entity']}"[:38]
                echo(
                    f"ALERT {alert['severity']:<8} {who:<38} {alert['detector']:<13} "
                    f"[{','.join(scenarios)}] {alert['reasons'][0][:70]}"
                )
                quiet_since = None
            now = time.monotonic()
            if now - last_progress >= 5:
                processed = metric(port, 'scrapewatch_events_total{result="processed"}')
                echo(
                    f"... sent {sent['n']:,} events, worker processed {processed:,.0f}, "
                    f"alerts {sum(by_scenario.values())}"
                )
                last_progress = now
                if sent["done"] and processed >= sent["n"]:
                    quiet_since = quiet_since or now
            if quiet_since is not None and now - quiet_since > 8:
                break  # everything processed and the last windows had time to close
    finally:
        consumer.close()
    return by_scenario
