"""Durable state of the stages in changelog-backed Faust tables.

The tables hold pickled bytes (``value_serializer="raw"``), written with an explicit
partition so that a wall-clock timer (outside any stream iteration) may write too. The key
of an entity's state is its entity key; the stage's own checkpoint (watermark, shared
population models) lives under ``__stage__/<partition>``. Every blob starts with the state
version so a worker never misreads state written by an incompatible release.
"""

from __future__ import annotations

import pickle
from typing import Any, Protocol

from detectors.base import STATE_VERSION
from stream.errors import ScrapewatchError

__all__ = [
    "MAX_STATE_BYTES",
    "ChangelogWriter",
    "StateStore",
    "StateWriteError",
    "TableStore",
    "dump_state",
    "load_state",
    "stage_key",
]

_PROTOCOL = pickle.HIGHEST_PROTOCOL

#: Largest state record written (the endpoint stage's checkpoint can hold many windows'
#: partials when one partition lags far behind the others).
MAX_STATE_BYTES = 64 * 1024 * 1024


class StateStore(Protocol):
    """What the runtime needs of a table: take a blob, write or delete one in a partition.

    ``take`` hands a restored state over to its stage, which keeps it live from then on;
    ``put`` makes a state durable. The store need not keep what it was given.
    """

    def take(self, key: str) -> bytes | None: ...

    def put(self, partition: int, key: str, blob: bytes) -> None: ...

    def delete(self, partition: int, key: str) -> None: ...


class StateVersionError(ScrapewatchError):
    """State written by an incompatible version of scrapewatch."""


def dump_state(obj: Any) -> bytes:
    """Pickle ``obj`` behind a version header."""
    return pickle.dumps((STATE_VERSION, obj), protocol=_PROTOCOL)


def load_state(blob: bytes) -> Any:
    """Inverse of :func:`dump_state`; refuses another state version with a clear error."""
    # Only our own changelog topics are read here, written by dump_state.
    version, obj = pickle.loads(blob)
    if version != STATE_VERSION:
        raise StateVersionError(
            f"state version {version} in the changelog, this worker reads {STATE_VERSION}: "
            "migrate or reset the table (see README, Operations)"
        )
    return obj


def stage_key(partition: int) -> str:
    """Table key of a partition's stage checkpoint."""
    return f"__stage__/{partition}"


class ChangelogWriter:
    """Writes changelog records with confluent-kafka instead of Faust's aiokafka producer.

    A table's changelog is an ordinary compacted topic that Faust reads back on recovery;
    who writes it does not matter to Faust, but the cost does: one state record per entity
    per window close is the busiest write of a worker, and librdkafka takes about a
    microsecond where aiokafka's producer path takes tens. :meth:`flush` is called before
    offsets are acknowledged, so state is durable before its input is committed.
    """

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.failed: str | None = None

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None and self.failed is None:
            self.failed = str(err)

    def write(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, partition=partition, on_delivery=self._delivered
                )
                return
            except BufferError:  # librdkafka's queue is full: let it send, then retry
                self._producer.poll(0.05)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every record; raise if one could not be written."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise StateWriteError(f"{remaining} changelog records not delivered in {timeout} s")
        if self.failed is not None:
            raise StateWriteError(f"changelog write failed: {self.failed}")


class StateWriteError(ScrapewatchError):
    """A changelog record did not reach Kafka: the worker must not commit its input."""


class TableStore:
    """A :class:`StateStore` over a Faust table whose keys and values are bytes.

    Faust restores the table from its changelog; ``take`` removes a state from it as its
    stage loads it, and ``put`` appends to the changelog through ``writer`` without keeping
    a copy in the table. A state therefore lives once in memory: live in its stage, or (not
    yet loaded since a restore) as a blob in the table, never both. That halves a worker's
    memory per tracked account. A partition that leaves this worker is read again from
    its changelog by its next owner (Faust reads a newly assigned partition from the
    start); one that a rebalance gives back to this worker keeps its live stage
    (``AccountRuntime`` parks it).

    ``keep=True`` keeps a copy of every blob written, and ``take`` leaves it in place: for
    a table of one small record whose owner may restore it again in the same process
    (the endpoint stage's checkpoint).
    """

    def __init__(self, table: Any, writer: ChangelogWriter, *, keep: bool = False) -> None:
        self._table = table
        self._writer = writer
        self._keep = keep
        self._topic: str = table.changelog_topic.get_topic_name()

    def take(self, key: str) -> bytes | None:
        data = self._table.data
        value = data.get(key.encode()) if self._keep else data.pop(key.encode(), None)
        return None if value is None else bytes(value)

    def put(self, partition: int, key: str, blob: bytes) -> None:
        raw_key = key.encode()
        if self._keep:
            self._table.data[raw_key] = blob
        self._writer.write(self._topic, partition, raw_key, blob)

    def delete(self, partition: int, key: str) -> None:
        raw_key = key.encode()
        self._table.data.pop(raw_key, None)
        self._writer.write(self._topic, partition, raw_key, None)
