"""The internal ``requests.batches`` format: many validated events in one Kafka message.

Faust spends 75-100 µs of scheduling per message but ~4 µs per event when a message carries
a hundred events (PERFORMANCE.md). The ingest bridge therefore reads ``requests`` with
confluent-kafka in large batches, validates, and forwards the valid events of each source
partition as one compact message to the *same partition number* of ``requests.batches``,
where the Faust agent keeps the per-account state. Each event keeps its source offset, so
a batch that is delivered twice (the bridge crashed after producing, before committing) is
recognised and skipped.

Layout (JSON, version first so the format can evolve):
``[1, source_partition, [[offset, ts, client_ip, method, path, status, account, route,
bytes, user_agent, session, referer], ...]]``

>>> from detectors.events import Request
>>> r = Request(ts=1.5, client_ip="10.0.0.1", method="GET", path="/", status=200)
>>> partition, rows = decode_batch(encode_batch(3, [(42, r)]))
>>> partition, rows == [(42, r)]
(3, True)
"""

from __future__ import annotations

from collections.abc import Iterable

from detectors.events import Request
from stream.codec import dumps, loads
from stream.errors import CodecError

__all__ = ["BATCH_FORMAT_VERSION", "decode_batch", "encode_batch"]

BATCH_FORMAT_VERSION = 1


def encode_batch(source_partition: int, events: Iterable[tuple[int, Request]]) -> bytes:
    """One message holding ``(offset, request)`` pairs of one source partition."""
    rows = [
        [
            off,
            r.ts,
            r.client_ip,
            r.method,
            r.path,
            r.status,
            r.account,
            r.route,
            r.bytes,
            r.user_agent,
            r.session,
            r.referer,
        ]
        for off, r in events
    ]
    return dumps([BATCH_FORMAT_VERSION, source_partition, rows])


def decode_batch(raw: bytes) -> tuple[int, list[tuple[int, Request]]]:
    """Inverse of :func:`encode_batch`; a foreign or newer format raises :class:`CodecError`."""
    try:
        version, partition, rows = loads(raw)
    except (ValueError, TypeError) as exc:
        raise CodecError(f"requests.batches message is not a batch: {exc}") from exc
    if version != BATCH_FORMAT_VERSION:
        raise CodecError(
            f"requests.batches format {version!r} is not supported (expected "
            f"{BATCH_FORMAT_VERSION}); upgrade this worker or drain the topic"
        )
    return partition, [(row[0], Request(*row[1:])) for row in rows]
