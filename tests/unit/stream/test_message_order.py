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


class _Reader:
    """Stands in for ``RangeReader.read``: the messages a partition holds, by offset."""

    def __init__(self, held: dict[int, bytes]) -> None:
        self.held = held
        self.calls: list[tuple[str, int, int, int]] = []

    def __call__(self, topic: str, partition: int, start: int, stop: int) -> list[tuple[int, Any]]:
        self.calls.append((topic, partition, start, stop))
        return [(o, self.held[o]) for o in range(start, stop) if o in self.held]


def _refetched(metrics: Any) -> float:
    value = metrics.registry.get_sample_value("scrapewatch_refetched_total", {"stage": "account"})
    return value or 0.0


def _missing(guard: InOrder, offset: int, expected: int | None) -> list[tuple[int, Any]]:
    return asyncio.run(guard.missing(TOPIC, offset, expected, "account"))


def test_nothing_is_read_again_when_messages_come_in_order_or_again():
    reader = _Reader({})
    guard = InOrder(reader, metrics_module.create())
    assert _missing(guard, 5, None) == []  # a new stage takes whatever comes first
    assert _missing(guard, 5, 5) == []
    assert _missing(guard, 3, 5) == []  # a re-delivery: the stage skips its events itself
    assert reader.calls == []


def test_skipped_messages_are_read_again_in_order(caplog):
    reader = _Reader({6: b"six", 7: b"seven"})
    metrics = metrics_module.create()
    guard = InOrder(reader, metrics)
    assert _missing(guard, 8, 6) == [(6, b"six"), (7, b"seven")]
    assert reader.calls == [(TOPIC.topic, TOPIC.partition, 6, 8)]
    assert _refetched(metrics) == 2
    assert "message 8 arrived while 6 was expected" in caplog.text


def test_messages_gone_from_the_partition_are_reported(caplog):
    guard = InOrder(_Reader({7: b"seven"}), metrics_module.create())
    assert _missing(guard, 8, 5) == [(7, b"seven")]
    assert "2 of the messages 5..7 could not be read" in caplog.text


def test_messages_a_restored_checkpoint_covers_count_as_duplicates_not_late_events():
    store = _Store()
    first: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    first.on_batch(2, *_batch(0, 3), "h0", message_offset=4)
    out = first.on_batch(2, *_batch(1000, 3), "h1", message_offset=5)  # closes the first window
    assert out.windows_closed == 1
    first.write_dirty()
    second: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    assert second.position(2) == 5
    out = second.on_batch(2, *_batch(0, 3), "h0 again", message_offset=4)
    assert second.duplicates == 3
    assert out.late_events == 0
    second.on_batch(2, *_batch(1000, 3), "h1 again", message_offset=5)  # not covered: read
    assert second.duplicates == 3
    (window,) = second.partitions[2].stage._open.values()
    assert window["a1"].requests == 3


def test_a_message_read_again_across_a_closed_and_an_open_window_is_split():
    store = _Store()
    first: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    events = [(o, _req(float(o))) for o in range(3)] + [(o, _req(float(o))) for o in (1000, 1001)]
    _, offsets, rows = decode_batch(encode_batch(2, events))
    first.on_batch(2, offsets, rows, "h0", message_offset=4)
    first.on_batch(2, *_batch(1025, 1), "h1", message_offset=5)  # closes window 0 only
    first.write_dirty()
    second: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    assert second.position(2) == 4  # message 4 still has events in an open window
    out = second.on_batch(2, offsets, rows, "h0 again", message_offset=4)
    assert second.duplicates == 3  # window 0's events: in the restored state
    assert out.late_events == 0
    (window,) = second.partitions[2].stage._open.values()
    assert window["a1"].requests == 2  # window 16's: read again, as they must be
