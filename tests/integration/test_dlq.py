"""Malformed messages between valid ones: the decode stage routes each to the DLQ topic."""

from __future__ import annotations

from typing import Any

from detectors.events import Request
from stream.codec import dumps
from stream.decoder import route_batch
from stream.dlq import MAX_DLQ_VALUE_BYTES, describe_dlq_message
from stream.events import MAX_MESSAGE_BYTES, REQUIRED_FIELDS, encode_event

TS = 1714564800.0


def valid(i: int) -> Request:
    return Request(TS + i, f"10.0.0.{i}", "GET", f"/api/items/{i}", 200, account=f"acct-{i}")


def good_obj(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "ts": TS,
        "client_ip": "10.1.1.1",
        "method": "GET",
        "path": "/p",
        "status": 200,
    }
    obj.update(overrides)
    return obj


# key -> (value, expected reason, expected field)
MALFORMED: dict[bytes, tuple[bytes | None, str, str | None]] = {
    b"not-json": (b"GET /api/users/1 HTTP/1.1", "not_json", None),
    b"truncated-json": (b'{"ts": 1714564800, "client_ip": "10.', "not_json", None),
    b"wrong-shape": (dumps([good_obj()]), "not_object", None),
    b"missing-field": (
        dumps({k: v for k, v in good_obj().items() if k != "client_ip"}),
        "missing_field",
        "client_ip",
    ),
    b"oversize": (
        dumps(good_obj(user_agent="u" * 2000, padding="x" * MAX_MESSAGE_BYTES)),
        "too_large",
        None,
    ),
    b"wrong-type": (dumps(good_obj(status="200x")), "wrong_type", "status"),
    b"wrong-type-ts": (dumps(good_obj(ts=[TS])), "wrong_type", "ts"),
    b"bad-value": (dumps(good_obj(status=700)), "bad_value", "status"),
    b"not-utf8": (
        b'{"ts": 1714564800, "client_ip": "10.1.1.1", "path": "/\xc3\x28"}',
        "not_utf8",
        None,
    ),
    b"tombstone": (None, "not_json", None),
}


def test_each_malformed_message_lands_on_the_dlq_with_its_reason_and_bytes(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    source = topic_factory(partitions=2)
    dlq = topic_factory()
    producer = producer_factory()
    goods = [valid(i) for i in range(len(MALFORMED) + 1)]
    for good, (key, (value, _, _)) in zip(goods, MALFORMED.items(), strict=False):
        producer.produce(source, value=encode_event(good), key=f"good-{good.account}".encode())
        producer.produce(source, value=value, key=key)
    producer.produce(
        source, value=encode_event(goods[-1]), key=f"good-{goods[-1].account}".encode()
    )
    assert producer.flush(30) == 0
    total = len(goods) + len(MALFORMED)

    consumed = consume_messages(consumer_factory([source]), total)
    batch = route_batch(consumed, producer_factory(), dlq)

    # the valid ones came out as events, with their source offsets
    assert sorted(r for _, _, r in batch.events) == sorted(goods)
    origin = {(m.partition(), m.offset()): m for m in consumed}
    for partition, offset, request in batch.events:
        assert origin[(partition, offset)].value() == encode_event(request)
    assert batch.results == {"valid": len(goods), "rejected": len(MALFORMED), "kafka_error": 0}
    expected_reasons: dict[str, int] = {}
    for _, reason, _ in MALFORMED.values():
        expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert batch.reasons == expected_reasons

    # every bad one is on the DLQ topic: original bytes, reason, field, where it came from
    dead = consume_messages(consumer_factory([dlq]), len(MALFORMED))
    assert sorted(m.key() for m in dead) == sorted(MALFORMED)
    source_of = {m.key(): m for m in consumed}
    for message in dead:
        value, reason, field = MALFORMED[message.key()]
        entry = describe_dlq_message(message.headers(), message.value())
        assert (entry.reason, entry.field) == (reason, field), entry
        assert message.value() == value
        assert entry.truncated_from is None
        original = source_of[message.key()]
        assert (entry.topic, entry.partition, entry.offset) == (
            source,
            original.partition(),
            original.offset(),
        )
        if field is not None:
            assert entry.error.startswith(f"field '{field}': ")
            assert "expected" in entry.error
    assert {describe_dlq_message(m.headers(), m.value()).reason for m in dead} >= {
        "not_json",
        "not_object",
        "missing_field",
        "too_large",
        "wrong_type",
        "not_utf8",
    }


def test_every_required_field_missing_is_named_on_the_dlq(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    source = topic_factory()
    dlq = topic_factory()
    producer = producer_factory()
    for name in REQUIRED_FIELDS:
        producer.produce(
            source,
            value=dumps({k: v for k, v in good_obj().items() if k != name}),
            key=name.encode(),
        )
    assert producer.flush(30) == 0

    batch = route_batch(
        consume_messages(consumer_factory([source]), len(REQUIRED_FIELDS)), producer, dlq
    )

    assert batch.reasons == {"missing_field": len(REQUIRED_FIELDS)}
    dead = consume_messages(consumer_factory([dlq]), len(REQUIRED_FIELDS))
    named = {m.key(): describe_dlq_message(m.headers(), m.value()).field for m in dead}
    assert named == {name.encode(): name for name in REQUIRED_FIELDS}


def test_a_message_too_big_to_republish_is_truncated_and_says_so(
    topic_factory: Any, producer_factory: Any, consumer_factory: Any, consume_messages: Any
) -> None:
    source = topic_factory()
    dlq = topic_factory()
    huge = b"{" + b" " * 950_000 + b"}"  # fits the topic, not the DLQ with headers
    producer = producer_factory()
    producer.produce(source, value=huge, key=b"huge")
    assert producer.flush(30) == 0

    batch = route_batch(consume_messages(consumer_factory([source]), 1), producer, dlq)

    assert batch.reasons == {"too_large": 1}
    [message] = consume_messages(consumer_factory([dlq]), 1)
    entry = describe_dlq_message(message.headers(), message.value())
    assert entry.truncated_from == len(huge)
    assert message.value() == huge[:MAX_DLQ_VALUE_BYTES]
    assert (
        entry.error == f"message: expected at most {MAX_MESSAGE_BYTES} bytes, got {len(huge)} bytes"
    )
