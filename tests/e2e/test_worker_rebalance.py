"""A second worker joins mid-stream: partitions move, the new owner restores their state
from the changelog (the state a stage holds lives only there and in that stage), and the
two workers together emit exactly the alerts of a replay, none twice."""

from __future__ import annotations

from detectors.engine import Engine
from stream.events import event_from_obj
from stream.worker import detection_config
from tests.e2e.helpers import feed, parity_key, read_alerts, simulate, wait_caught_up


def test_a_worker_joining_mid_stream_takes_over_state_and_repeats_nothing(
    settings_factory, worker_factory
):
    partitions = 4
    settings = settings_factory(requests_partitions=partitions, idle_close_seconds=3)
    events, _labels = simulate(hours=2.0, benign=300, anonymous=100, seed=7)
    offline = list(
        Engine(detection_config(settings), partitions).process(event_from_obj(e) for e in events)
    )
    assert offline, "the simulation should produce alerts"

    # the first part ends at a window boundary, so the windows the first worker closes by
    # wall clock while the second one starts hold all their events already
    t0, t1 = events[0]["ts"], events[-1]["ts"]
    split = (t0 + 0.4 * (t1 - t0)) // 60 * 60
    head = [e for e in events if e["ts"] < split]
    tail = [e for e in events if e["ts"] >= split]

    first = worker_factory(settings)
    sent = feed(settings, head).sent
    first.wait_metric("scrapewatch_events_total", sent, result="processed")
    second = worker_factory(settings, create_topics=False)  # ready: partitions assigned
    feed(settings, tail)
    wait_caught_up([first, second])
    # the second worker took partitions over, with the state the first one built for them
    assert second.metric("scrapewatch_events_total", result="processed") > 0
    alerts = read_alerts(settings, idle=8.0)

    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids)), "an alert id appears twice"
    assert {parity_key(a) for a in alerts} == {parity_key(a) for a in offline}
