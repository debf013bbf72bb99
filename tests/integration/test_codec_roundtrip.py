"""Events and alerts through a real broker and back, through the project's codec."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from confluent_kafka import Message

from detectors.alerts import make_alert
from detectors.events import Request
from stream.alerts import alert_key, decode_alert, encode_alert
from stream.codec import dumps
from stream.events import encode_event, event_key, parse_event

BASE_TS = 1714564800.0


def sample_requests(count: int) -> list[Request]:
    """Varied valid events: IPv4 and IPv6, anonymous and logged in, every optional field."""
    out = []
    for i in range(count):
        account = None if i % 3 == 0 else f"acct-{i % 7}"
        ip = f"203.0.113.{i % 250}" if i % 2 else f"2001:db8::{i + 1:x}"
        out.append(
            Request(
                ts=BASE_TS + i * 0.137,
                client_ip=ip,
                method=("GET", "POST", "DELETE")[i % 3],
                path=f"/api/users/{1000 + i}/profile",
                status=(200, 404, 500, 302)[i % 4],
                account=account,
                route="/api/users/{id}/profile" if i % 2 else None,
                bytes=i * 31 if i % 5 else None,
                user_agent=f"agent/{i % 4} (é ü ✓)" if i % 4 else None,
                session=f"s-{i // 10}" if account else None,
                referer="https://shop.example.com/" if i % 6 == 0 else None,
            )
        )
    return out


def by_key(messages: list[Message]) -> dict[bytes | None, list[Any]]:
    grouped: dict[bytes | None, list[Any]] = defaultdict(list)
    for message in messages:
        grouped[message.key()].append(message)
    return grouped


def test_events_come_back_as_identical_requests(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    topic = topic_factory(partitions=3)
    sent = sample_requests(120)
    producer = producer_factory()
    for request in sent:
        producer.produce(topic, value=encode_event(request), key=event_key(request))
    assert producer.flush(30) == 0

    messages = consume_messages(consumer_factory([topic]), len(sent))

    results = [parse_event(m.value()) for m in messages]
    decoded = [r for r in results if isinstance(r, Request)]
    assert len(decoded) == len(results), [r for r in results if not isinstance(r, Request)]
    assert sorted(decoded) == sorted(sent)
    # one key, one partition: each entity's events arrive in the order they were sent
    for key, group in by_key(messages).items():
        assert [parse_event(m.value()) for m in group] == [r for r in sent if event_key(r) == key]
        assert len({m.partition() for m in group}) == 1


def test_producer_written_json_with_rfc3339_times_decodes(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    """What an app producer writes (RFC 3339 times, query strings, extra fields) decodes."""
    topic = topic_factory()
    producer = producer_factory()
    raw = dumps(
        {
            "ts": "2024-05-01T14:00:00.5+02:00",
            "client_ip": "::ffff:198.51.100.9",
            "method": "get",
            "path": "/search?q=phones&page=2",
            "status": 200,
            "account": "",
            "trace_id": "abc123",
        }
    )
    producer.produce(topic, value=raw, key=b"198.51.100.9")
    assert producer.flush(30) == 0

    [message] = consume_messages(consumer_factory([topic]), 1)

    assert message.value() == raw
    assert parse_event(message.value()) == Request(
        ts=BASE_TS + 0.5, client_ip="198.51.100.9", method="GET", path="/search", status=200
    )


def test_alerts_come_back_valid_and_equal(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    topic = topic_factory(partitions=2)
    alerts = [
        make_alert(
            entity_type="account",
            entity=f"acct-{i}",
            detector="population",
            score=5.0 + i,
            threshold=4.0,
            severity="high",
            window=(BASE_TS, BASE_TS + 60),
            features={"distinct_ids": (300.0 + i, 12.0)},
            reasons=[f"{300 + i} distinct profiles in 60 s"],
            evidence={"resource_ids": [str(j) for j in range(5)]},
            model_version="test",
            emitted_at=BASE_TS + 61,
        )
        for i in range(5)
    ]
    producer = producer_factory()
    for alert in alerts:
        producer.produce(topic, value=encode_alert(alert), key=alert_key(alert))
    assert producer.flush(30) == 0

    messages = consume_messages(consumer_factory([topic]), len(alerts))

    received = {m.key(): decode_alert(m.value()) for m in messages}
    assert received == {alert_key(a): a for a in alerts}
