"""The ingest bridge forwards (and so commits) only what its partitions hold now."""

from __future__ import annotations

from typing import Any

from stream import metrics
from stream.bridge import Bridge


class _Msg:
    """What ``_owned_only`` reads of a confluent-kafka message."""

    def __init__(self, partition: int, error: Any = None) -> None:
        self._partition = partition
        self._error = error

    def partition(self) -> int:
        return self._partition

    def error(self) -> Any:
        return self._error


def _bridge() -> Bridge:
    return Bridge(
        consumer_config={},
        producer_config={},
        requests_topic="requests",
        batches_topic="requests.batches",
        dlq_topic="requests.dlq",
        metrics=metrics.create(),
    )


def test_messages_of_partitions_revoked_during_consume_are_left_to_their_new_owner():
    bridge = _bridge()
    bridge._owned = {0, 1}  # a rebalance took 2 and 3 away while consume() gathered these
    msgs = [_Msg(0), _Msg(2), _Msg(1), _Msg(3), _Msg(3)]
    kept = bridge._owned_only(msgs)
    assert [m.partition() for m in kept] == [0, 1]
    assert bridge.fenced == 3


def test_kafka_errors_are_kept_so_that_they_are_counted():
    bridge = _bridge()
    bridge._owned = {0}
    kept = bridge._owned_only([_Msg(-1, error="broker down"), _Msg(0)])
    assert len(kept) == 2
