"""Reading a few messages again by offset, with a consumer of our own.

The agents use it when Faust skipped a message (see ``stream.agents.InOrder``): seeking
Faust's own consumer while its fetcher runs races inside aiokafka, so the missing
messages are read by a short-lived confluent-kafka consumer that is assigned the one
partition (no consumer group is joined, nothing is committed).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

__all__ = ["RangeReader"]


class RangeReader:
    """``read(topic, partition, start, stop)``: the messages at offsets ``[start, stop)``.

    Returns ``(offset, value)`` pairs in order; fewer than asked when the partition no
    longer holds some of them (retention) or they do not come within ``timeout`` seconds.
    """

    def __init__(self, consumer_config: dict[str, Any], timeout: float = 30.0) -> None:
        self._config = {
            **consumer_config,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
        self.timeout = timeout

    def read(self, topic: str, partition: int, start: int, stop: int) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        if stop <= start:
            return out
        consumer = Consumer(self._config)
        try:
            consumer.assign([TopicPartition(topic, partition, start)])
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                for msg in consumer.consume(max(1, stop - start - len(out)), 0.5):
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            return out
                        raise KafkaException(error)
                    offset = msg.offset() or 0  # set on every fetched message
                    if offset >= stop:
                        return out
                    out.append((offset, msg.value()))
                    if offset == stop - 1:
                        return out
            return out
        finally:
            consumer.close()
