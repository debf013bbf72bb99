"""A worker stopped with SIGTERM mid-stream and started again resumes from its committed
offsets with its table state restored: the alerts are those of an uninterrupted run, and
no alert id appears twice."""

from __future__ import annotations

import signal
import time

from detectors.engine import Engine
from stream.events import event_from_obj
from stream.worker import detection_config
from tests.e2e.helpers import feed, parity_key, read_alerts, simulate, wait_caught_up


def test_sigterm_mid_stream_then_restart_loses_and_repeats_nothing(
    settings_factory, worker_factory
):
    partitions = 3
    settings = settings_factory(requests_partitions=partitions, idle_close_seconds=3)
    events, _labels = simulate(hours=2.0, benign=300, anonymous=100, seed=5)
    expected = {
        parity_key(a)
        for a in Engine(detection_config(settings), partitions).process(
            event_from_obj(e) for e in events
        )
    }

    first = worker_factory(settings)
    sent = feed(settings, events).sent
    first.wait_metric("scrapewatch_events_total", sent * 0.4, result="processed")
    stopped_at = time.monotonic()
    code = first.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - stopped_at
    assert code == 0, first.log_tail()
    assert took < 10, f"graceful stop took {took:.1f} s"

    second = worker_factory(settings)
    wait_caught_up([second])
    alerts = read_alerts(settings, idle=8.0)

    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids)), "an alert id appears twice"
    assert {parity_key(a) for a in alerts} == expected
