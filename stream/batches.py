"""The internal ``requests.batches`` format: many validated events in one Kafka message.

Faust spends 75-100 µs of scheduling per message but ~4 µs per event when a message carries
a hundred events (PERFORMANCE.md). The ingest bridge therefore reads ``requests`` with
confluent-kafka in large batches, validates, and forwards the valid events of each source
partition as one compact message to the *same partition number* of ``requests.batches``,
where the Faust agent keeps the per-account state. Each event keeps its source offset, so
a batch that is delivered twice (the bridge crashed after producing, before committing) is
recognised and skipped.

Layout (JSON, version first so the format can evolve):
``[2, source_partition, [offset, ...], [[ts, client_ip, method, path, status, account, route,
bytes, user_agent, session, referer], ...]]``: offsets and rows side by side, each row in
``Request`` field order, so the agent folds a decoded row straight into its window without
building a ``Request`` per event (version 1 kept the offset in the row; it is still read,
so a rolling upgrade drains the older worker's batches).

>>> from detectors.events import Request
>>> r = Request(ts=1.5, client_ip="10.0.0.1", method="GET", path="/", status=200)
>>> partition, offsets, rows = decode_batch(encode_batch(3, [(42, r)]))
>>> partition, offsets, Request(*rows[0]) == r
(3, [42], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors.events import Request
from stream.codec import dumps, loads
from stream.errors import CodecError

__all__ = ["BATCH_FORMAT_VERSION", "Row", "decode_batch", "encode_batch", "encode_rows"]

BATCH_FORMAT_VERSION = 2

#: A decoded row: the ``Request`` fields in order (a list, or the ``Request`` itself).
Row = Sequence[Any]


def encode_batch(source_partition: int, events: Sequence[tuple[int, Request]]) -> bytes:
    """One message holding ``(offset, request)`` pairs of one source partition."""
    return encode_rows(source_partition, [off for off, _ in events], [r for _, r in events])


def encode_rows(
    source_partition: int, offsets: Sequence[int], requests: Sequence[Request]
) -> bytes:
    """:func:`encode_batch` from the offsets and the requests side by side (the bridge's
    own layout: no pair per event)."""
    # a Request is a NamedTuple, which orjson does not take: plain tuples serialise in C
    return dumps([BATCH_FORMAT_VERSION, source_partition, offsets, [tuple(r) for r in requests]])


def decode_batch(raw: bytes) -> tuple[int, list[int], list[Row]]:
    """Inverse of :func:`encode_batch`: ``(source partition, offsets, rows)``.

    A foreign or newer format raises :class:`CodecError`.
    """
    try:
        decoded = loads(raw)
        version = decoded[0]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CodecError(f"requests.batches message is not a batch: {exc}") from exc
    if version not in (1, BATCH_FORMAT_VERSION):
        raise CodecError(
            f"requests.batches format {version!r} is not supported (expected "
            f"{BATCH_FORMAT_VERSION}); upgrade this worker or drain the topic"
        )
    try:
        if version == BATCH_FORMAT_VERSION:
            _, partition, offsets, rows = decoded
        else:
            _, partition, old = decoded
            offsets, rows = [row[0] for row in old], [row[1:] for row in old]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CodecError(f"requests.batches message is not a batch: {exc}") from exc
    if len(offsets) != len(rows):
        raise CodecError(f"requests.batches message has {len(offsets)} offsets, {len(rows)} rows")
    return partition, offsets, rows
