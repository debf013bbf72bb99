"""Sends request events to the ``requests`` topic: the simulator's ``--to-kafka`` and tests.

Keys are the account, else the client IP, and the producer uses Kafka's murmur2
partitioner (as Java clients and log shippers do), so ``scrapewatch replay --partitions N``
can reproduce the worker's partitioning exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Producer

from detectors.eventlog import paced
from stream.codec import dumps

__all__ = ["FeedStats", "send_events"]

ProgressFn = Callable[[int, float], None]


class FeedStats:
    """How many events were sent and over which event-time span."""

    __slots__ = ("first_ts", "last_ts", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None


def event_key(event: Mapping[str, Any]) -> bytes:
    """The ``requests`` key: the account, else the client IP."""
    account = event.get("account")
    return str(account if account else event.get("client_ip", "")).encode()


def send_events(
    producer_config: dict[str, Any],
    topic: str,
    events: Iterable[Mapping[str, Any]],
    *,
    speed: float = 0.0,
    shift_to: float | None = None,
    progress: ProgressFn | None = None,
    progress_every: float = 1.0,
) -> FeedStats:
    """Produce ``events`` (dicts in the request contract) one per message.

    ``speed`` 0 sends as fast as possible; otherwise event time is replayed ``speed`` times
    faster than real time (1 = real time, 60 = a simulated minute per second).
    ``shift_to`` moves event times so that the first event happens at that epoch time.
    """
    config = dict(producer_config)
    config.setdefault("partitioner", "murmur2_random")
    producer = Producer(config)
    stats = FeedStats()
    started = time.monotonic()
    last_progress = started
    offset = 0.0
    if speed > 0:
        events = paced(events, speed)
    for original in events:
        ts = float(original["ts"])
        if stats.first_ts is None:
            stats.first_ts = ts
            if shift_to is not None:
                offset = shift_to - ts
        event = {**original, "ts": round(ts + offset, 3)} if offset else original
        value = dumps(event)
        while True:
            try:
                producer.produce(topic, value=value, key=event_key(event))
                break
            except BufferError:
                producer.poll(0.05)
        stats.sent += 1
        stats.last_ts = ts
        if progress is not None:
            now = time.monotonic()
            if now - last_progress >= progress_every:
                progress(stats.sent, ts)
                last_progress = now
    producer.flush(60)
    return stats
