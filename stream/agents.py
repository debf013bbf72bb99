"""The Faust app's agents, tables and timer: decode, hand to ``stream.runtime``, send, count.

Topology (see README, "How a worker is built"):

- ``requests.batches`` (same partition count as ``requests``) -> agent ``accounts``: per
  partition an AccountStage; entity state in the ``entities`` table (changelog-backed);
- ``endpoint-stats`` (one partition: it carries one small message per partition per window)
  -> agent ``endpoints``: the endpoint detector and campaign correlation; its checkpoint in the
  ``endpoint-state`` table;
- both send alerts to ``alerts`` with key ``entity_type:entity``;
- a one-second timer closes windows of partitions that went quiet (wall clock).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP

from detectors.config import DetectionConfig
from stream.alerts import alert_key, encode_alert
from stream.batches import decode_batch
from stream.errors import CodecError
from stream.metrics import Metrics
from stream.runtime import AccountRuntime, EndpointRuntime, Outbox
from stream.state import MAX_STATE_BYTES, ChangelogWriter, TableStore

__all__ = ["Agents", "InOrder", "Topology"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topology:
    """Topic names and the partition count of ``requests`` (and so of its batches)."""

    batches: str
    endpoint_stats: str
    alerts: str
    partitions: int


class InOrder:
    """Hands a stage its partition's messages in offset order, seeking back over a gap.

    A stage must see every message of its partition, in order: one skipped and delivered
    later looks like a re-delivery (its source offsets are below what the stage has seen)
    and its events would be dropped. Faust (0.11 to 0.15 at least) sometimes skips the
    first message fetched after a rebalance that kept a partition on its worker. So each
    message is compared with the offset the stage expects next: below it is a
    re-delivery (the stage skips its events by source offset); above it, a message is
    missing, and the consumer seeks back to it. Messages refused meanwhile are neither
    processed nor acknowledged: they come again after the one that was missing.
    """

    #: seconds before the same missing message is sought again
    RETRY_SECONDS = 2.0

    def __init__(self, app: faust.App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._seeking: dict[TP, tuple[int, float]] = {}

    async def admit(self, tp: TP, offset: int, expected: int | None, stage: str) -> bool:
        """Whether the message at ``offset`` may be processed now."""
        if expected is None or offset <= expected:
            if offset == expected:
                self._seeking.pop(tp, None)
            return True
        now = time.monotonic()
        seeking = self._seeking.get(tp)
        if seeking and seeking[0] == expected and now - seeking[1] < self.RETRY_SECONDS:
            return False  # already sought back: this one comes again after the missing one
        consumer = self.app.consumer
        earliest = (await consumer.earliest_offsets(tp)).get(tp)
        if earliest is not None and expected < earliest:
            log.error(
                "%s[%d]: messages %d..%d were deleted by retention before they were read; "
                "going on from %d",
                tp.topic,
                tp.partition,
                expected,
                earliest - 1,
                offset,
            )
            self._seeking.pop(tp, None)
            return True
        log.warning(
            "%s[%d]: message %d arrived while %d was expected; reading again from %d",
            tp.topic,
            tp.partition,
            offset,
            expected,
            expected,
        )
        self.metrics.rewinds.labels(stage).inc()
        await consumer.seek(tp, expected)
        self._seeking[tp] = (expected, now)
        return False


class Agents:
    """The worker's agents, tables and timer, and the little state they share.

    Build it with :meth:`install`; the agents themselves are a few lines each: decode, hand
    to ``stream.runtime``, send what comes back, count it.
    """

    def __init__(
        self,
        app: faust.App,
        topology: Topology,
        config: DetectionConfig,
        metrics: Metrics,
        writer: ChangelogWriter,
    ) -> None:
        self.app = app
        self.writer = writer
        self.topology = topology
        self.metrics = metrics
        self.batches = app.topic(
            topology.batches,
            key_serializer="raw",
            value_serializer="raw",
            partitions=topology.partitions,
        )
        self.stats = app.topic(
            topology.endpoint_stats, key_serializer="raw", value_serializer="raw", partitions=1
        )
        self.alerts = app.topic(topology.alerts, key_serializer="raw", value_serializer="raw")
        # bytes in, bytes out: Faust then uses the "raw" codec for the changelog (and for
        # its recovery); the state layer pickles behind a version header itself.
        entities = app.Table(
            "entities", partitions=topology.partitions, key_type=bytes, value_type=bytes
        )
        # The endpoint stage's checkpoint holds the partials of windows that some
        # partition has not closed yet: allow it to be large.
        endpoint_state = app.Table(
            "endpoint-state",
            partitions=1,
            key_type=bytes,
            value_type=bytes,
            extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
        )
        self.accounts: AccountRuntime[Any] = AccountRuntime(config, TableStore(entities, writer))
        self.endpoints: EndpointRuntime[Any] = EndpointRuntime(
            config, topology.partitions, TableStore(endpoint_state, writer, keep=True)
        )
        self.endpoints_restored = False
        self.in_order = InOrder(app, metrics)
        self.read_upto: dict[tuple[str, int], int] = {}
        # Readiness is a flag set by Faust's own signals, in the event loop; the HTTP
        # thread only reads it. (Touching Faust's table manager from another thread, which
        # creates its recovery service lazily, made workers hang before their first
        # rebalance.)
        self.is_ready = False

    @classmethod
    def install(
        cls,
        app: faust.App,
        topology: Topology,
        config: DetectionConfig,
        metrics: Metrics,
        writer: ChangelogWriter,
    ) -> Agents:
        """Declare topics, tables, agents, the timer and the rebalance hooks on ``app``."""
        self = cls(app, topology, config, metrics, writer)
        app.agent(self.batches, name="accounts")(self.accounts_agent)
        app.agent(self.stats, name="endpoints")(self.endpoints_agent)
        app.timer(interval=1.0)(self.tick)
        # mode's handler type is a union of callables that no async method matches exactly
        app.on_partitions_revoked.connect(cast(Any, self.on_revoked))
        app.on_rebalance_complete.connect(cast(Any, self.on_rebalanced))
        app.on_before_shutdown.connect(cast(Any, self.on_shutdown))
        return self

    def ready(self) -> bool:
        return self.is_ready

    # -- agents ------------------------------------------------------------------------
    async def accounts_agent(self, stream: Any) -> None:
        """``requests.batches`` -> per-partition account stages."""
        metrics, batches, in_order = self.metrics, self.topology.batches, self.in_order
        async for event in stream.noack().events():
            started = time.perf_counter()
            message = event.message
            expected = self.accounts.position(message.partition)
            if not await in_order.admit(message.tp, message.offset, expected, "account"):
                continue
            try:
                _source, offsets, rows = decode_batch(event.value)
            except CodecError as exc:
                # taken as an empty batch: acknowledged in turn, and the position moves on
                log.error("skipping undecodable batch at %s: %s", message.tp, exc)
                offsets, rows = [], []
            self.read_upto[(batches, message.partition)] = message.offset
            seen = self.accounts.duplicates
            out = self.accounts.on_batch(message.partition, offsets, rows, event, message.offset)
            await self.send(out, "account")
            duplicates = self.accounts.duplicates - seen
            metrics.events.labels("processed").inc(len(rows) - duplicates)
            if duplicates:
                metrics.events.labels("duplicate").inc(duplicates)
            metrics.batch_latency.observe(time.perf_counter() - started)
            if message.timestamp:
                metrics.event_lag.observe(max(0.0, time.time() - message.timestamp))

    async def endpoints_agent(self, stream: Any) -> None:
        """``endpoint-stats`` -> the endpoint detector and campaign correlation."""
        async for event in stream.noack().events():
            if not self.endpoints_restored:
                self.endpoints.restore()
                self.endpoints_restored = True
            message = event.message
            expected = self.endpoints.position()
            if not await self.in_order.admit(message.tp, message.offset, expected, "endpoint"):
                continue
            self.read_upto[(self.topology.endpoint_stats, 0)] = message.offset
            await self.send(self.endpoints.on_stats(event.value, event, message.offset), "endpoint")

    async def tick(self) -> None:
        """Every second: close quiet partitions' windows, then make progress durable."""
        if not self.is_ready:
            return
        now, topology = time.time(), self.topology
        out = self.accounts.tick(now, lambda p: self.backlog(topology.batches, p))
        await self.send(out, "account")
        await self.send(
            self.endpoints.tick(now, self.backlog(topology.endpoint_stats, 0)), "endpoint"
        )
        await self.commit_point()
        self.metrics.entities.labels("account").set(self.accounts.entities())

    async def on_shutdown(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Faust has stopped the flow of messages: make everything processed durable, so a
        graceful stop neither loses nor repeats an alert."""
        await self.commit_point()

    # -- helpers -----------------------------------------------------------------------
    async def send(self, out: Outbox, stage: str) -> None:
        metrics = self.metrics
        for alert in out.alerts:
            await self.alerts.send(key=alert_key(alert), value=encode_alert(alert))
        for msg in out.stats:
            await self.stats.send(key=None, value=msg, partition=0)
        metrics.count_alerts(out.alerts)
        metrics.observe_scores(out.scores)
        if out.endpoint_requests:
            metrics.count_endpoints(out.endpoint_requests)
        if out.windows_closed:
            metrics.windows_closed.labels(stage).inc(out.windows_closed)
        if out.late_events:
            metrics.events.labels("late").inc(out.late_events)
        if out.expired:
            metrics.entities_expired.inc(out.expired)

    async def commit_point(self) -> None:
        """Alerts, then state, then offsets, each durable before the next.

        1. flush the alerts (and endpoint-stats) already sent;
        2. write the state that closing those windows changed, and flush it;
        3. acknowledge the input messages whose windows are closed and written.

        A crash between 1 and 2 re-emits an alert (same id) after the restart; never the
        reverse, which would lose one. Done once a second (and at shutdown), so the agents
        never wait for a flush per message.
        """
        await self.app.producer.flush()
        self.accounts.write_dirty()
        self.endpoints.write_checkpoint()
        handles = self.accounts.ackable() + self.endpoints.ackable()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.flush)
        for event in handles:
            event.ack()

    def backlog(self, topic: str, partition: int) -> bool:
        """Whether messages of this partition wait unread (so it is behind, not idle)."""
        last = self.read_upto.get((topic, partition))
        try:
            high = self.app.consumer.highwater(TP(topic, partition))
        except Exception:  # no fetch yet: nothing known to be waiting
            return False
        return high is not None and last is not None and high > last + 1

    # Stages are created lazily on a partition's first batch, which Faust delivers only
    # after table recovery: creating them on assignment would read tables not yet restored.
    async def on_revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = kwargs.get("revoked", args[0] if args else set())
        self.is_ready = False
        # the same order as commit_point: alerts durable before the state that records them
        await self.app.producer.flush()
        self.accounts.revoke(tp.partition for tp in revoked if tp.topic == self.topology.batches)
        await asyncio.get_running_loop().run_in_executor(None, self.writer.flush)
        if any(tp.topic == self.topology.endpoint_stats for tp in revoked):
            self.endpoints_restored = False  # re-read the checkpoint if it comes back

    async def on_rebalanced(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        batches = self.topology.batches
        self.accounts.forget_parked(
            tp.partition for tp in self.app.consumer.assignment() if tp.topic == batches
        )
        self.is_ready = True  # Faust sends this once table recovery has completed
