"""The decode stage over message-like objects, and DLQ producing with a recording producer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import confluent_kafka
import pytest

from detectors.events import Request
from stream import decoder
from stream.codec import dumps
from stream.decoder import RESULTS, decode_messages, produce_dlq, route_batch
from stream.dlq import describe_dlq_message
from stream.errors import DlqDeliveryError
from stream.events import MAX_MESSAGE_BYTES, Rejection

GOOD = dumps(
    {"ts": 1714564800, "client_ip": "10.0.0.1", "method": "GET", "path": "/a", "status": 200}
)


@dataclass
class Msg:
    """Stands in for confluent_kafka.Message (same six methods)."""

    _value: bytes | None
    _offset: int
    _partition: int = 0
    _key: bytes | None = None
    _error: Any = None
    _topic: str = "requests"

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str | None:
        return self._topic

    def partition(self) -> int | None:
        return self._partition

    def offset(self) -> int | None:
        return self._offset

    def error(self) -> Any:
        return self._error


class RecordingProducer:
    """Records produce calls and answers delivery reports on flush, like the real one."""

    def __init__(self, fail_with: str | None = None, full_times: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.pending: list[Callable[[Any, Any], None]] = []
        self.fail_with = fail_with
        self.full_times = full_times

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
    ) -> None:
        if self.full_times:
            self.full_times -= 1
            raise BufferError("Local: Queue full")
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers})
        if on_delivery is not None:
            self.pending.append(on_delivery)

    def poll(self, timeout: float = 0.0) -> int:
        return self.flush(timeout)

    def flush(self, timeout: float = 0.0) -> int:
        served, self.pending = self.pending, []
        for callback in served:
            callback(self.fail_with, None)
        return 0


def test_valid_and_rejected_messages_are_split_and_counted() -> None:
    msgs = [
        Msg(GOOD, 10, _partition=2),
        Msg(b"not json", 11, _partition=2, _key=b"k1"),
        Msg(dumps({"ts": 1714564800}), 12, _partition=2),
        Msg(GOOD, 5, _partition=0),
        Msg(b"x" * (MAX_MESSAGE_BYTES + 1), 6, _partition=0),
    ]
    batch = decode_messages(msgs, rejected_at=0.0)
    assert [(p, o) for p, o, _ in batch.events] == [(2, 10), (0, 5)]
    assert all(isinstance(r, Request) for _, _, r in batch.events)
    assert batch.results == {"valid": 2, "rejected": 3, "kafka_error": 0}
    assert batch.reasons == {"not_json": 1, "missing_field": 1, "too_large": 1}
    assert batch.positions == {("requests", 2): 13, ("requests", 0): 7}
    entries = [describe_dlq_message(r.headers, r.value) for r in batch.dlq]
    assert [(e.reason, e.source) for e in entries] == [
        ("not_json", "requests/2/11"),
        ("missing_field", "requests/2/12"),
        ("too_large", "requests/0/6"),
    ]
    assert batch.dlq[0].key == b"k1"
    assert batch.dlq[0].value == b"not json"


def test_empty_batch() -> None:
    batch = decode_messages([])
    assert (batch.events, batch.dlq, batch.reasons) == ([], [], {})
    assert batch.results == dict.fromkeys(RESULTS, 0)


def test_kafka_errors_are_counted_not_decoded_and_eof_is_skipped() -> None:
    eof = confluent_kafka.KafkaError(confluent_kafka.KafkaError._PARTITION_EOF)
    broken = confluent_kafka.KafkaError(confluent_kafka.KafkaError._MSG_TIMED_OUT)
    batch = decode_messages([Msg(None, 3, _error=eof), Msg(None, 4, _error=broken), Msg(GOOD, 5)])
    assert batch.results == {"valid": 1, "rejected": 0, "kafka_error": 1}
    assert batch.dlq == []
    assert len(batch.kafka_errors) == 1
    assert batch.kafka_errors[0].startswith("requests/0/4: ")


def test_partition_eof_code_matches_the_library() -> None:
    assert confluent_kafka.KafkaError._PARTITION_EOF == decoder._PARTITION_EOF


def test_a_bug_in_parsing_is_still_routed_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(_raw: object) -> Request | Rejection:
        raise RuntimeError("boom")

    monkeypatch.setattr(decoder, "parse_event", explode)
    batch = decode_messages([Msg(GOOD, 1)])
    assert batch.reasons == {"bad_value": 1}
    assert describe_dlq_message(batch.dlq[0].headers, None).error == (
        "message: could not be validated (RuntimeError: boom)"
    )


def test_route_batch_produces_every_rejection_to_the_dlq_topic() -> None:
    producer = RecordingProducer()
    batch = route_batch(
        [Msg(b"{", 1, _key=b"k"), Msg(GOOD, 2), Msg(b"[]", 3)], producer, "requests.dlq"
    )
    assert batch.results["valid"] == 1
    assert [(s["topic"], s["key"], s["value"]) for s in producer.sent] == [
        ("requests.dlq", b"k", b"{"),
        ("requests.dlq", None, b"[]"),
    ]
    assert producer.sent[0]["headers"] == batch.dlq[0].headers


def test_route_batch_with_nothing_rejected_produces_nothing() -> None:
    producer = RecordingProducer()
    route_batch([Msg(GOOD, 1)], producer, "requests.dlq")
    assert producer.sent == []


def test_failed_delivery_raises_so_offsets_are_not_committed() -> None:
    producer = RecordingProducer(fail_with="Broker: Topic authorization failed")
    with pytest.raises(
        DlqDeliveryError, match=r"1 of 1 records failed \(first: Broker: Topic authorization"
    ):
        route_batch([Msg(b"{", 1)], producer, "requests.dlq")


def test_full_producer_queue_is_retried() -> None:
    producer = RecordingProducer(full_times=3)
    batch = decode_messages([Msg(b"{", 1)])
    produce_dlq(producer, "requests.dlq", batch.dlq)
    assert len(producer.sent) == 1


def test_full_producer_queue_gives_up_after_the_timeout() -> None:
    producer = RecordingProducer(full_times=10**9)
    batch = decode_messages([Msg(b"{", 1)])
    with pytest.raises(DlqDeliveryError, match="producer queue still full"):
        produce_dlq(producer, "requests.dlq", batch.dlq, timeout=0.0)
