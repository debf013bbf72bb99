"""The streaming worker and ``scrapewatch replay`` run the same detector code: on the same
events they emit the same alerts, to the last feature and reason."""

from __future__ import annotations

from detectors.engine import Engine
from detectors.events import Request
from stream.events import event_from_obj
from stream.worker import detection_config
from tests.e2e.helpers import feed, parity_key, read_alerts, simulate


def test_worker_and_replay_give_the_same_alerts(settings_factory, worker_factory):
    partitions = 3
    settings = settings_factory(requests_partitions=partitions, idle_close_seconds=3)
    events, _labels = simulate(hours=2.0, benign=300, anonymous=100, seed=11)

    requests = [event_from_obj(e) for e in events]
    assert all(isinstance(r, Request) for r in requests)
    offline = list(Engine(detection_config(settings), partitions).process(requests))
    assert offline, "the simulation should produce alerts"

    worker = worker_factory(settings)
    sent = feed(settings, events).sent
    worker.wait_metric("scrapewatch_events_total", sent, result="processed")
    online = read_alerts(settings, idle=8.0)
    assert worker.metric("scrapewatch_events_total", result="late") == 0

    assert {parity_key(a) for a in online} == {parity_key(a) for a in offline}
    assert len({a["alert_id"] for a in online}) == len(online)
    # the same decisions down to the severity (ids include it), early firings included,
    # and the same alerts to the last feature and reason
    assert {a["alert_id"] for a in online} == {a["alert_id"] for a in offline}
    by_id = {a["alert_id"]: a for a in offline}
    assert [a for a in online if a != by_id[a["alert_id"]]] == []
    early = [a for a in offline if a["emitted_at"] < a["window"]["end"]]
    assert early, "the simulation should have a window judged before its end"
