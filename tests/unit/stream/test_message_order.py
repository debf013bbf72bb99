"""Stages see their partition's messages in offset order: the position a stage expects
next survives parking and checkpoints, and the agents' guard seeks back over a gap."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from detectors.config import DetectionConfig
from detectors.stages import EndpointStage
from stream import metrics as metrics_module
from stream.agents import InOrder
from stream.batches import decode_batch, encode_batch
from stream.runtime import AccountRuntime, EndpointRuntime
from stream.state import dump_state
from tests.unit.stream.test_batches import _req, _Store

TOPIC = TP("requests.batches", 2)


def _batch(first: int, n: int) -> tuple[list[int], list[Any]]:
    _, offsets, rows = decode_batch(
        encode_batch(2, [(o, _req(float(o))) for o in range(first, first + n)])
    )
    return offsets, rows


def test_the_expected_position_follows_the_messages_and_survives_a_kept_partition():
    runtime: AccountRuntime[str] = AccountRuntime(DetectionConfig(), _Store())
    assert runtime.position(2) is None  # a new stage takes whatever comes first
    runtime.on_batch(2, *_batch(0, 3), "h0", message_offset=7)
    runtime.on_batch(2, *_batch(3, 3), "h1", message_offset=8)
    assert runtime.position(2) == 9
    runtime.on_batch(2, *_batch(0, 3), "h0 again", message_offset=7)  # a re-delivery
    assert runtime.position(2) == 9
    runtime.revoke([2])
    runtime.assign([2])  # given back to this worker: the parked stage, position and all
    assert runtime.position(2) == 9


def test_a_restored_stage_resumes_at_the_first_message_of_a_window_still_open():
    store = _Store()
    first: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    first.on_batch(2, *_batch(0, 3), "h0", message_offset=4)
    first.on_batch(2, *_batch(3, 3), "h1", message_offset=5)
    first.partitions[2].checkpoint_due = True  # (as after an earlier window's close)
    first.write_dirty()
    # both messages' window is open: the state written does not hold their events
    assert AccountRuntime(DetectionConfig(), store).position(2) == 4

    first.on_batch(2, *_batch(1000, 3), "h2", message_offset=6)  # closes the first window
    first.write_dirty()
    assert first.ackable() == ["h0", "h1"]
    assert AccountRuntime(DetectionConfig(), store).position(2) == 6


def test_a_checkpoint_written_before_positions_restores_without_one():
    store = _Store()
    config = DetectionConfig()
    writer: AccountRuntime[str] = AccountRuntime(config, _Store())
    writer.on_batch(2, *_batch(0, 3), "h0")
    stage = writer.partitions[2].stage
    old = {"models": stage.models, "clock": stage.clock}  # the 0.2 checkpoint
    store.put(2, "__stage__/2", dump_state(old))
    restored: AccountRuntime[str] = AccountRuntime(config, store)
    assert restored.position(2) is None


def test_the_endpoint_checkpoint_carries_its_position_and_old_ones_still_load():
    config = DetectionConfig()
    store = _Store()
    runtime: EndpointRuntime[str] = EndpointRuntime(config, 2, store, checkpoint_seconds=0.0)
    runtime.on_stats(
        b'{"v": 1, "source": 0, "watermark": null, "partials": [], "summaries": []}', "h", 41
    )
    runtime.on_stats(b"not json", "h2", 42)  # refused with a log line, position moves on
    runtime.checkpoint_due = True
    runtime.write_checkpoint()
    again: EndpointRuntime[str] = EndpointRuntime(config, 2, store)
    again.restore()
    assert again.position() == 43
    store.put(0, EndpointRuntime.KEY, dump_state(EndpointStage(config, sources=2)))
    again.restore()
    assert isinstance(again.stage, EndpointStage)
    assert again.position() is None


class _Consumer:
    """The two calls InOrder makes of Faust's consumer, recorded."""

    def __init__(self, earliest: int = 0) -> None:
        self.earliest = earliest
        self.seeks: list[tuple[TP, int]] = []

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.earliest for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


class _App:
    def __init__(self, consumer: _Consumer) -> None:
        self.consumer = consumer


def _guard(consumer: _Consumer) -> tuple[InOrder, Any]:
    metrics = metrics_module.create()
    return InOrder(_App(consumer), metrics), metrics  # type: ignore[arg-type]


def _rewinds(metrics: Any) -> float:
    return metrics.registry.get_sample_value("scrapewatch_rewinds_total", {"stage": "account"}) or 0


def test_a_missing_message_is_sought_back_once_and_later_ones_wait_for_it():
    consumer = _Consumer()
    guard, metrics = _guard(consumer)

    def admit(offset: int, expected: int | None) -> bool:
        return asyncio.run(guard.admit(TOPIC, offset, expected, "account"))

    assert admit(5, None)  # nothing known yet
    assert admit(3, 5)  # a re-delivery: the stage skips its events itself
    assert admit(5, 5)
    assert not admit(7, 6)  # 6 is missing
    assert not admit(8, 6)  # still waiting for it: no second seek
    assert consumer.seeks == [(TOPIC, 6)]
    assert _rewinds(metrics) == 1
    assert admit(6, 6)
    assert admit(7, 7)


def test_a_missing_message_is_sought_again_when_it_does_not_come():
    consumer = _Consumer()
    guard, _ = _guard(consumer)
    guard.RETRY_SECONDS = 0.0
    assert not asyncio.run(guard.admit(TOPIC, 9, 6, "account"))
    assert not asyncio.run(guard.admit(TOPIC, 9, 6, "account"))
    assert consumer.seeks == [(TOPIC, 6), (TOPIC, 6)]


def test_messages_deleted_by_retention_are_not_waited_for(caplog):
    consumer = _Consumer(earliest=100)
    guard, _ = _guard(consumer)
    assert asyncio.run(guard.admit(TOPIC, 100, 6, "account"))
    assert consumer.seeks == []
    assert "deleted by retention" in caplog.text
