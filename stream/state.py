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

__all__ = ["StateStore", "TableStore", "dump_state", "load_state", "stage_key"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL


class StateStore(Protocol):
    """What the runtime needs of a table: read a blob, write or delete one in a partition."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, partition: int, key: str, blob: bytes) -> None: ...

    def delete(self, partition: int, key: str) -> None: ...

    def __len__(self) -> int: ...


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


class TableStore:
    """A :class:`StateStore` over a Faust table created with raw key and value serializers."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: str) -> bytes | None:
        value = self._table.data.get(key.encode())
        return None if value is None else bytes(value)

    def put(self, partition: int, key: str, blob: bytes) -> None:
        raw_key = key.encode()
        self._table.data[raw_key] = blob
        self._table.send_changelog(
            partition, raw_key, blob, key_serializer="raw", value_serializer="raw"
        )

    def delete(self, partition: int, key: str) -> None:
        raw_key = key.encode()
        self._table.data.pop(raw_key, None)
        self._table.send_changelog(
            partition, raw_key, None, key_serializer="raw", value_serializer="raw"
        )

    def __len__(self) -> int:
        return len(self._table.data)
