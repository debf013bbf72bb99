"""The internal batches format and the runtime's handling of re-delivered events."""

from __future__ import annotations

import pytest

from detectors.config import DetectionConfig
from detectors.events import Request
from stream.batches import decode_batch, encode_batch
from stream.codec import dumps
from stream.errors import CodecError
from stream.runtime import AccountRuntime


def _req(ts: float, account: str = "a1", path: str = "/api/users/7") -> Request:
    return Request(
        ts=ts,
        client_ip="10.0.0.1",
        method="GET",
        path=path,
        status=200,
        account=account,
        user_agent="ua",
    )


def test_round_trip_keeps_offsets_and_every_field():
    events = [(10, _req(1.0)), (11, _req(2.0, account="b2", path="/p/1?x=1"))]
    partition, offsets, rows = decode_batch(encode_batch(4, events))
    assert partition == 4
    assert offsets == [10, 11]
    assert [Request(*row) for row in rows] == [r for _, r in events]


def test_version_one_batches_are_still_read():
    r = _req(1.0)
    raw = dumps([1, 2, [[5, *r]]])
    assert decode_batch(raw) == (2, [5], [list(r)])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "is not a batch"),
        (dumps([9, 0, [], []]), "format 9 is not supported"),
        (dumps([2, 0, [1, 2], [[1.0]]]), "2 offsets, 1 rows"),
        (dumps([2, 0]), "is not a batch"),
    ],
)
def test_foreign_messages_raise_a_codec_error_saying_why(raw, message):
    with pytest.raises(CodecError, match=message):
        decode_batch(raw)


class _Store:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def take(self, key: str) -> bytes | None:
        return self.data.pop(key, None)

    def put(self, partition: int, key: str, blob: bytes) -> None:
        self.data[key] = blob

    def delete(self, partition: int, key: str) -> None:
        self.data.pop(key, None)


def test_runtime_skips_events_it_has_already_folded_in():
    runtime: AccountRuntime[str] = AccountRuntime(DetectionConfig(), _Store())
    _, offsets, rows = decode_batch(encode_batch(0, [(o, _req(float(o))) for o in range(5)]))
    runtime.on_batch(0, offsets, rows, "h1")
    # the bridge died after producing, before committing: the batch (and one more) again
    _, offsets, rows = decode_batch(encode_batch(0, [(o, _req(float(o))) for o in range(3, 8)]))
    runtime.on_batch(0, offsets, rows, "h2")
    assert runtime.duplicates == 2
    stage = runtime.partitions[0].stage
    (window,) = stage._open.values()
    assert window["a1"].requests == 8


def test_a_large_close_is_split_and_only_its_last_part_moves_the_watermark():
    from stream.codec import loads
    from stream.runtime import MAX_STATS_BYTES, stats_messages

    items = [("summaries", {"entity": f"acct-{i}", "pad": "x" * 300}) for i in range(4000)]
    items.append(("partials", {"endpoint": "GET /p/{id}"}))
    raws = stats_messages(3, 120.0, items)
    assert len(raws) > 1
    assert all(len(r) <= MAX_STATS_BYTES for r in raws)
    msgs = [loads(r) for r in raws]
    assert [m["watermark"] for m in msgs] == [None] * (len(msgs) - 1) + [120.0]
    assert [s["entity"] for m in msgs for s in m["summaries"]] == [f"acct-{i}" for i in range(4000)]
    assert [p for m in msgs for p in m["partials"]] == [{"endpoint": "GET /p/{id}"}]


def test_a_partition_given_back_after_a_rebalance_keeps_its_live_stage():
    store = _Store()
    runtime: AccountRuntime[str] = AccountRuntime(DetectionConfig(), store)
    _, offsets, rows = decode_batch(encode_batch(0, [(o, _req(float(o))) for o in range(3)]))
    runtime.on_batch(0, offsets, rows, "h1")
    runtime.on_batch(1, offsets, rows, "h1b")
    stage = runtime.partitions[0].stage
    runtime.revoke([0, 1])  # every rebalance revokes every partition first
    assert runtime.partitions == {}
    runtime.assign([0])  # partition 0 comes back to this worker
    runtime.forget_parked([0])  # partition 1 went elsewhere
    assert runtime.partitions[0].stage is stage
    assert list(runtime.parked) == []
    # its unacknowledged batch comes again: skipped, and not acknowledged before its window
    runtime.on_batch(0, offsets, rows, "h1-again")
    assert runtime.duplicates == 3
    (window,) = stage._open.values()
    assert window["a1"].requests == 3
    assert runtime.ackable() == []
