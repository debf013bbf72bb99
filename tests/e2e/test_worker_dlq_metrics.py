"""Bad messages go to the DLQ with their reasons while the worker keeps processing, and
/metrics counts exactly what was sent."""

from __future__ import annotations

from confluent_kafka import Producer

from stream.codec import dumps
from stream.dlq import describe_dlq_message
from stream.kafka.config import producer_config
from tests.e2e.helpers import read_topic

BAD = [
    (b"not json at all", "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (
        dumps({"client_ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200}),
        "missing_field",
    ),
    (
        dumps(
            {
                "ts": 1767571200,
                "client_ip": "10.0.0.1",
                "method": "GET",
                "path": "/",
                "status": "200x",
            }
        ),
        "wrong_type",
    ),
    (b'{"ts": 1767571200, "path": "\xff\xfe"}', "not_utf8"),
    (b'{"pad": "' + b"x" * 70_000 + b'"}', "too_large"),
]


def _valid(i: int) -> bytes:
    return dumps(
        {
            "ts": 1767571200 + i,
            "client_ip": f"10.0.{i % 7}.{i % 250}",
            "method": "GET",
            "path": f"/products/{i}",
            "status": 200,
            "account": f"acct{i % 13}",
        }
    )


def test_bad_messages_land_on_the_dlq_and_metrics_match(settings_factory, worker_factory):
    settings = settings_factory(requests_partitions=2, idle_close_seconds=2)
    worker = worker_factory(settings)
    producer = Producer(producer_config(settings))
    valid = 0
    for round_ in range(3):  # bad messages between valid ones, several times
        for i in range(200):
            producer.produce(settings.topic_requests, _valid(round_ * 200 + i), key=b"k%d" % i)
            valid += 1
        for raw, _reason in BAD:
            producer.produce(settings.topic_requests, raw, key=b"bad")
    producer.flush(30)

    worker.wait_metric("scrapewatch_events_total", valid, result="processed")
    assert worker.metric("scrapewatch_events_total", result="valid") == valid
    assert worker.metric("scrapewatch_events_total", result="rejected") == 3 * len(BAD)

    dlq = [
        describe_dlq_message(m.headers(), m.value())
        for m in read_topic(settings, settings.topic_requests_dlq)
    ]
    assert sorted(e.reason for e in dlq) == sorted(r for _raw, r in BAD for _ in range(3))
    for entry in dlq:
        assert entry.topic == settings.topic_requests
        assert entry.error  # a human message naming the problem
    originals = {raw for raw, _ in BAD if len(raw) < 60_000}
    assert originals <= {e.value for e in dlq}

    for _raw, reason in BAD:
        assert worker.metric("scrapewatch_dlq_total", reason=reason) == 3, reason
    status, _ = worker.get("/readyz")
    assert status == 200  # still processing
