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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP, Message

from detectors.config import DetectionConfig
from stream.alerts import alert_key, encode_alert
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


#: ``read(topic, partition, start, stop)`` -> ``(offset, value)`` of the messages in
#: ``[start, stop)`` (``stream.refetch.RangeReader.read``)
Reader = Callable[[str, int, int, int], list[tuple[int, Any]]]


class InOrder:
    """Hands a stage every message of its partition, in offset order, re-reading skipped ones.

    A stage must see every message of its partition, in order: one skipped would be lost
    (and one delivered late would look like a re-delivery: its source offsets are below
    what the stage has seen). Faust 0.15.3 sometimes skips a message around a rebalance
    that keeps a partition on its worker: one fetched as the new generation starts is
    discarded by the stream's generation check while the fetcher has moved past it (the
    class of faust-streaming/faust#216 and #221, robinhood/faust#115). So each message
    is compared with the offset the stage expects next (``AccountRuntime.position``):
    below it is a re-delivery (the stage skips events it holds); above it, the messages
    in between are missing, and :meth:`missing` reads them again with a consumer of our
    own (``stream.refetch``: seeking Faust's consumer while it fetches races inside
    aiokafka). The agent processes them first and acknowledges them to Faust like the
    others (see ``_Reread``), in order.
    """

    def __init__(self, read: Reader, metrics: Metrics) -> None:
        self.read = read
        self.metrics = metrics

    async def missing(
        self, tp: TP, offset: int, expected: int | None, stage: str
    ) -> list[tuple[int, Any]]:
        """The ``(offset, value)`` of the messages skipped before ``offset`` (usually none)."""
        if expected is None or offset <= expected:
            return []
        log.warning(
            "%s[%d]: message %d arrived while %d was expected; reading %d..%d again",
            tp.topic,
            tp.partition,
            offset,
            expected,
            expected,
            offset - 1,
        )
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            None, self.read, tp.topic, tp.partition, expected, offset
        )
        self.metrics.refetched.labels(stage).inc(len(found))
        if len(found) < offset - expected:
            log.error(
                "%s[%d]: %d of the messages %d..%d could not be read (deleted by retention?)",
                tp.topic,
                tp.partition,
                offset - expected - len(found),
                expected,
                offset - 1,
            )
        return found


class _Reread:
    """The handle of a message read again (see :class:`InOrder`).

    Acknowledged to Faust's consumer like the messages it delivered: Faust commits a
    partition only up to its first offset not acknowledged, so a skipped message never
    acknowledged would hold the partition's commits back until the next rebalance.
    """

    __slots__ = ("consumer", "offset", "tp")

    def __init__(self, consumer: Any, tp: TP, offset: int) -> None:
        self.consumer, self.tp, self.offset = consumer, tp, offset

    def ack(self) -> None:
        tp = self.tp
        message = Message(
            tp.topic, tp.partition, self.offset, 0.0, 0, None, None, None, None, tp=tp
        )
        self.consumer.ack(message)


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
        *,
        read: Reader,
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
        self.in_order = InOrder(read, metrics)
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
        *,
        read: Reader,
    ) -> Agents:
        """Declare topics, tables, agents, the timer and the rebalance hooks on ``app``."""
        self = cls(app, topology, config, metrics, writer, read=read)
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
        accounts = self.accounts
        async for event in stream.noack().events():
            message = event.message
            partition = message.partition
            expected = accounts.position(partition)
            for offset, value, handle in await self._skipped(message, expected, "account"):
                await self._account_batch(partition, offset, value, handle, None)
            await self._account_batch(
                partition, message.offset, event.value, event, message.timestamp
            )

    async def _skipped(
        self, message: Any, expected: int | None, stage: str
    ) -> list[tuple[int, Any, _Reread]]:
        """The messages Faust skipped before ``message``, read again, with the handles that
        acknowledge them (none in the usual case: ``message`` is the one expected)."""
        tp, consumer = message.tp, self.app.consumer
        found = await self.in_order.missing(tp, message.offset, expected, stage)
        return [(offset, value, _Reread(consumer, tp, offset)) for offset, value in found]

    async def _account_batch(
        self, partition: int, offset: int, value: bytes, handle: Any, timestamp: float | None
    ) -> None:
        metrics = self.metrics
        started = time.perf_counter()
        self.read_upto[(self.topology.batches, partition)] = offset
        seen = self.accounts.duplicates
        try:
            out, events = self.accounts.on_message(partition, value, handle, offset)
        except CodecError as exc:
            # taken as an empty batch: acknowledged in turn, and the position moves on
            log.error(
                "skipping undecodable batch %s[%d]@%d: %s",
                self.topology.batches,
                partition,
                offset,
                exc,
            )
            out, events = self.accounts.on_batch(partition, [], [], handle, offset), 0
        await self.send(out, "account")
        duplicates = self.accounts.duplicates - seen
        metrics.events.labels("processed").inc(events - duplicates)
        if duplicates:
            metrics.events.labels("duplicate").inc(duplicates)
        metrics.batch_latency.observe(time.perf_counter() - started)
        if timestamp:
            metrics.event_lag.observe(max(0.0, time.time() - timestamp))

    async def endpoints_agent(self, stream: Any) -> None:
        """``endpoint-stats`` -> the endpoint detector and campaign correlation."""
        endpoints = self.endpoints
        async for event in stream.noack().events():
            if not self.endpoints_restored:
                endpoints.restore()
                self.endpoints_restored = True
            message = event.message
            expected = endpoints.position()
            for offset, value, handle in await self._skipped(message, expected, "endpoint"):
                await self.send(endpoints.on_stats(value, handle, offset), "endpoint")
            self.read_upto[(self.topology.endpoint_stats, 0)] = message.offset
            await self.send(endpoints.on_stats(event.value, event, message.offset), "endpoint")

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
