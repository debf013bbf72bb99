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

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP

from detectors.config import DetectionConfig
from stream.alerts import alert_key, encode_alert
from stream.batches import decode_batch
from stream.errors import CodecError
from stream.metrics import Metrics
from stream.runtime import AccountRuntime, EndpointRuntime, Outbox
from stream.state import TableStore

__all__ = ["Topology", "install"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topology:
    """Topic names and the partition count of ``requests`` (and so of its batches)."""

    batches: str
    endpoint_stats: str
    alerts: str
    partitions: int


@dataclass(slots=True)
class Installed:
    """Handles the worker needs after :func:`install`."""

    accounts: AccountRuntime[Any]
    endpoints: EndpointRuntime[Any]
    ready: Callable[[], bool]


def install(
    app: faust.App, topology: Topology, config: DetectionConfig, metrics: Metrics
) -> Installed:
    """Declare topics, tables, agents and the timer on ``app``."""
    batches = app.topic(
        topology.batches,
        key_serializer="raw",
        value_serializer="raw",
        partitions=topology.partitions,
        internal=False,
    )
    stats = app.topic(
        topology.endpoint_stats, key_serializer="raw", value_serializer="raw", partitions=1
    )
    alerts = app.topic(topology.alerts, key_serializer="raw", value_serializer="raw")
    # bytes in, bytes out: Faust then uses the "raw" codec for the changelog (and for its
    # recovery), and the state layer pickles with a version header itself.
    entities = app.Table(
        "entities", partitions=topology.partitions, key_type=bytes, value_type=bytes
    )
    endpoint_state = app.Table("endpoint-state", partitions=1, key_type=bytes, value_type=bytes)

    acc: AccountRuntime[Any] = AccountRuntime(config, TableStore(entities))
    ends: EndpointRuntime[Any] = EndpointRuntime(
        config, topology.partitions, TableStore(endpoint_state)
    )
    restored = {"endpoints": False}

    async def send(out: Outbox) -> None:
        for alert in out.alerts:
            await alerts.send(key=alert_key(alert), value=encode_alert(alert))
        for msg in out.stats:
            await stats.send(key=None, value=msg, partition=0)
        metrics.count_alerts(out.alerts)
        metrics.observe_scores(out.scores)
        if out.endpoint_requests:
            metrics.count_endpoints(out.endpoint_requests)
        if out.windows_closed:
            metrics.windows_closed.labels("account").inc(out.windows_closed)
        if out.late_events:
            metrics.events.labels("late").inc(out.late_events)

    ready_to_ack: list[Any] = []

    async def ack(handles: list[Any]) -> None:
        # Acknowledged in the one-second timer, after one producer flush for all of them:
        # flushing per batch would stall the agent on every message.
        ready_to_ack.extend(handles)

    async def flush_acks() -> None:
        if not ready_to_ack:
            return
        handles = ready_to_ack[:]
        del ready_to_ack[:]
        await app.producer.flush()  # state and alerts durable before the offsets move
        for event in handles:
            event.ack()

    @app.agent(batches, name="accounts")
    async def accounts_agent(stream: faust.StreamT[Any]) -> None:
        async for event in stream.noack().events():
            started = time.perf_counter()
            try:
                _source, rows = decode_batch(event.value)
            except CodecError as exc:
                log.error("skipping undecodable batch at %s: %s", event.message.tp, exc)
                event.ack()
                continue
            read_upto[(topology.batches, event.message.partition)] = event.message.offset
            out = acc.on_batch(event.message.partition, rows, event)
            await send(out)
            await ack(acc.ackable())
            metrics.events.labels("processed").inc(len(rows))
            metrics.batch_latency.observe(time.perf_counter() - started)
            if event.message.timestamp:
                metrics.event_lag.observe(max(0.0, time.time() - event.message.timestamp))

    @app.agent(stats, name="endpoints")
    async def endpoints_agent(stream: faust.StreamT[Any]) -> None:
        async for event in stream.noack().events():
            if not restored["endpoints"]:
                ends.restore()
                restored["endpoints"] = True
            read_upto[(topology.endpoint_stats, 0)] = event.message.offset
            out = ends.on_stats(event.value, event)
            await send_endpoint(out)
            await ack(ends.ackable())

    async def send_endpoint(out: Outbox) -> None:
        for alert in out.alerts:
            await alerts.send(key=alert_key(alert), value=encode_alert(alert))
        metrics.count_alerts(out.alerts)
        metrics.observe_scores(out.scores)
        if out.windows_closed:
            metrics.windows_closed.labels("endpoint").inc(out.windows_closed)

    read_upto: dict[tuple[str, int], int] = {}

    def backlog(topic: str, partition: int) -> bool:
        """Whether messages of this partition wait unread (so it is behind, not idle)."""
        last = read_upto.get((topic, partition))
        try:
            high = app.consumer.highwater(TP(topic, partition))
        except Exception:  # noqa: BLE001  (no fetch yet: treat as caught up)
            return False
        return high is not None and last is not None and high > last + 1

    @app.timer(interval=1.0)
    async def idle_close() -> None:
        if not ready():
            return
        now = time.time()
        await send(acc.tick(now, lambda p: backlog(topology.batches, p)))
        await ack(acc.ackable())
        await send_endpoint(ends.tick(now, backlog(topology.endpoint_stats, 0)))
        await ack(ends.ackable())
        await flush_acks()
        metrics.entities.labels("account").set(acc.entities())

    batches_tps = topology.batches

    # Stages are created lazily on a partition's first batch, which Faust delivers only
    # after table recovery: creating them on assignment would read a table not yet restored.
    # Readiness is a flag set by Faust's own signals, in the event loop. The HTTP thread
    # only reads it: touching Faust's table manager from another thread (it creates its
    # recovery service lazily) made a worker hang before its first rebalance.
    state = {"ready": False}

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        state["ready"] = False
        acc.revoke(tp.partition for tp in revoked if tp.topic == batches_tps)

    @app.on_rebalance_complete.connect
    async def on_rebalanced(app: faust.App, **kwargs: Any) -> None:
        state["ready"] = True  # sent by Faust once table recovery has completed

    def ready() -> bool:
        return state["ready"]

    return Installed(accounts=acc, endpoints=ends, ready=ready)
