"""The ingest bridge: ``requests`` -> validate -> ``requests.batches`` (+ ``requests.dlq``).

Reads one-event-per-message traffic with confluent-kafka in large batches (about 1 µs a
message), validates each event (``stream.decoder``), sends rejections to the DLQ and the
valid events of each source partition as one compact message to the same partition of
``requests.batches`` (``stream.batches``), where the Faust agent keeps per-account state.
Offsets of ``requests`` are committed only after everything produced for them is
acknowledged by the broker (at-least-once); a batch produced twice after a crash is
recognised downstream by its source offsets.

It runs in a thread of the worker process (librdkafka releases the GIL while it waits) and
is a separate consumer group (``<app_id>-ingest``) from the Faust agents.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from stream.decoder import forward_batch
from stream.metrics import Metrics

__all__ = ["Bridge", "BridgeStats"]

log = logging.getLogger(__name__)

_MAX_EVENTS_PER_MESSAGE = 2000  # ~300 KiB of compact JSON: far below Kafka's 1 MiB default


@dataclass(slots=True)
class _Inflight:
    offsets: dict[int, int]
    remaining: int
    failed: str | None = None


@dataclass(slots=True)
class BridgeStats:
    """Totals since start, for the demo summary and tests."""

    consumed: int = 0
    valid: int = 0
    rejected: int = 0
    #: valid events the C decode stage validated (``stream.fastdecode``)
    native: int = 0
    batches: int = 0
    commits: int = 0
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Bridge:
    """Consume, validate, forward, commit. :meth:`run` loops until :meth:`stop`."""

    def __init__(
        self,
        *,
        consumer_config: dict[str, Any],
        producer_config: dict[str, Any],
        requests_topic: str,
        batches_topic: str,
        dlq_topic: str,
        metrics: Metrics,
        batch_size: int = 5000,
        commit_interval: float = 0.5,
        lag_interval: float = 5.0,
    ) -> None:
        self._consumer_config = consumer_config
        self._producer_config = producer_config
        self.requests_topic = requests_topic
        self.batches_topic = batches_topic
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.batch_size = batch_size
        self.commit_interval = commit_interval
        self.lag_interval = lag_interval
        self.stats = BridgeStats()
        self._stop = threading.Event()
        self._inflight: deque[_Inflight] = deque()
        #: partitions of ``requests`` this bridge owns now, and whether a rebalance took
        #: some away during the last ``consume`` (see :meth:`_owned_only`)
        self._owned: set[int] = set()
        self._revoked = False
        self.fenced = 0
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run_safely, name="scrapewatch-bridge", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 8.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_safely(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the worker, which then exits non-zero
            self.error = exc
            log.exception("ingest bridge stopped on an error")

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        consumer = Consumer(self._consumer_config)
        producer = Producer(self._producer_config)
        self._consumer, self._producer = consumer, producer

        def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
            self._owned.update(tp.partition for tp in partitions)

        def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
            self._drain(wait=True)
            self._owned.difference_update(tp.partition for tp in partitions)
            self._revoked = True

        consumer.subscribe([self.requests_topic], on_assign=on_assign, on_revoke=on_revoke)
        last_commit = last_lag = time.monotonic()
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(self.batch_size, 0.2)
                if self._revoked:
                    msgs = self._owned_only(msgs)
                if msgs:
                    self._forward(msgs)
                producer.poll(0)
                now = time.monotonic()
                if now - last_commit >= self.commit_interval:
                    self._drain(wait=False)
                    last_commit = now
                if now - last_lag >= self.lag_interval:
                    self._report_lag()
                    last_lag = now
        finally:
            self._drain(wait=True)
            consumer.close()

    def _owned_only(self, msgs: list[Any]) -> list[Any]:
        """Drop the messages of partitions revoked while ``consume`` gathered them.

        ``consume`` can return messages fetched before a rebalance that it served in the
        same call. Forwarding them would be harmless for the events (their new owner reads
        them again and the stage skips source offsets it has seen), but committing their
        offsets is not: this member's commit could land after the new owner's and move
        the partition's committed offset back. Their new owner forwards them.
        """
        self._revoked = False
        owned = self._owned
        kept = [m for m in msgs if m.partition() in owned or m.error() is not None]
        if len(kept) != len(msgs):
            self.fenced += len(msgs) - len(kept)
            log.info(
                "ingest: %d messages of revoked partitions left to their new owner",
                len(msgs) - len(kept),
            )
        return kept

    def _forward(self, msgs: list[Any]) -> None:
        started = time.perf_counter()
        batch = forward_batch(msgs, _MAX_EVENTS_PER_MESSAGE)
        inflight = _Inflight(
            offsets=batch.positions, remaining=len(batch.messages) + len(batch.dlq)
        )
        self._inflight.append(inflight)

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                inflight.failed = str(err)
            inflight.remaining -= 1

        producer = self._producer
        for partition, value in batch.messages:
            self._produce(
                producer,
                self.batches_topic,
                value=value,
                partition=partition,
                on_delivery=delivered,
            )
        self.stats.batches += len(batch.messages)
        for rec in batch.dlq:
            self._produce(
                producer,
                self.dlq_topic,
                value=rec.value,
                key=rec.key,
                headers=rec.headers,
                on_delivery=delivered,
            )
        results = batch.results
        self.stats.consumed += len(msgs)
        self.stats.valid += results.get("valid", 0)
        self.stats.rejected += results.get("rejected", 0)
        self.stats.native += batch.native
        for reason, n in batch.reasons.items():
            self.stats.by_reason[reason] += n
        self.metrics.count_events(results)
        self.metrics.count_dlq(batch.reasons)
        self.metrics.batch_latency.observe(time.perf_counter() - started)

    @staticmethod
    def _produce(producer: Producer, topic: str, **kwargs: Any) -> None:
        """``producer.produce`` that waits for room when librdkafka's queue is full."""
        while True:
            try:
                producer.produce(topic, **kwargs)
                return
            except BufferError:  # local queue full: let librdkafka send, then retry
                producer.poll(0.05)

    def _drain(self, *, wait: bool) -> None:
        """Commit the offsets whose every produced message is acknowledged, in order."""
        producer = self._producer
        if wait:
            producer.flush(30)
        else:
            producer.poll(0)
        commit: dict[int, int] = {}
        while self._inflight and self._inflight[0].remaining <= 0:
            done = self._inflight.popleft()
            if done.failed is not None:
                # Never commit past what did not reach the broker: stop, let a restart
                # re-read it (the supervisor restarts the worker; nothing is lost).
                raise KafkaException(f"delivery to Kafka failed: {done.failed}")
            commit.update(done.offsets)
        if commit:
            tps = [TopicPartition(self.requests_topic, p, off) for p, off in commit.items()]
            if wait:
                self._consumer.commit(offsets=tps, asynchronous=False)
            else:
                self._consumer.commit(offsets=tps, asynchronous=True)
            self.stats.commits += 1

    def _report_lag(self) -> None:
        consumer = self._consumer
        try:
            assigned = consumer.assignment()
            if not assigned:
                return
            positions = consumer.position(assigned)
            # No position yet (nothing fetched since the assignment): the committed offset
            # is where consumption will start; without one, the whole partition is behind.
            committed = {tp.partition: tp.offset for tp in consumer.committed(assigned, 5.0)}
            for tp in positions:
                lo, hi = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
                at = tp.offset if tp.offset >= 0 else committed.get(tp.partition, -1)
                lag = hi - (at if at >= 0 else lo)
                self.metrics.consumer_lag.labels(str(tp.partition)).set(max(0, lag))
        except KafkaException as exc:
            log.debug("lag not measured: %s", exc)
