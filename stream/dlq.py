"""Dead-letter records: a rejected message's original bytes, plus headers saying why.

The value on ``requests.dlq`` is the ORIGINAL value, byte for byte, so the message can be
fixed and replayed; everything scrapewatch knows about the rejection travels in headers:

=============================  ====================================================
``scrapewatch.reason``         one of :data:`stream.events.REASONS`
``scrapewatch.field``          the field at fault, empty when the whole message is
``scrapewatch.error``          the human message of the rejection
``scrapewatch.source``         ``topic/partition/offset`` of the original message
``scrapewatch.rejected_at``    RFC 3339 UTC time of the rejection
``scrapewatch.truncated_from`` only when the value had to be cut: its original size
=============================  ====================================================

>>> from stream.events import parse_event
>>> rejection = parse_event(b"not json")
>>> record = dlq_record(rejection, b"not json", topic="requests", partition=2, offset=41,
...                     key=b"10.0.0.1", rejected_at=0.0)
>>> entry = describe_dlq_message(record.headers, record.value)
>>> entry.reason, entry.source, entry.value
('not_json', 'requests/2/41', b'not json')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from time import time
from typing import Final, TypeAlias

from stream.errors import DlqFormatError
from stream.events import Rejection

__all__ = [
    "HEADER_ERROR",
    "HEADER_FIELD",
    "HEADER_REASON",
    "HEADER_REJECTED_AT",
    "HEADER_SOURCE",
    "HEADER_TRUNCATED_FROM",
    "MAX_DLQ_VALUE_BYTES",
    "DlqEntry",
    "DlqRecord",
    "Headers",
    "describe_dlq_message",
    "dlq_record",
]

HEADER_REASON: Final = "scrapewatch.reason"
HEADER_FIELD: Final = "scrapewatch.field"
HEADER_ERROR: Final = "scrapewatch.error"
HEADER_SOURCE: Final = "scrapewatch.source"
HEADER_REJECTED_AT: Final = "scrapewatch.rejected_at"
HEADER_TRUNCATED_FROM: Final = "scrapewatch.truncated_from"
#: Largest value written to the DLQ. The producer's default ``message.max.bytes`` is
#: 1,000,000 bytes for key, value and headers together; this leaves room for the rest.
MAX_DLQ_VALUE_BYTES: Final = 900_000

#: Kafka headers as confluent-kafka hands them over (a list of pairs) or as a mapping.
Headers: TypeAlias = (
    Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None
)


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """One message to produce to the DLQ topic (headers as confluent-kafka accepts them)."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class DlqEntry:
    """A DLQ message read back: why it was rejected, where it came from, its bytes."""

    reason: str
    field: str | None
    error: str
    topic: str
    partition: int
    offset: int
    rejected_at: str
    value: bytes | None
    truncated_from: int | None = None

    @property
    def source(self) -> str:
        """``topic/partition/offset`` of the original message."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    def __str__(self) -> str:
        size = 0 if self.value is None else len(self.value)
        kept = f", truncated from {self.truncated_from} bytes" if self.truncated_from else ""
        preview = b"" if self.value is None else self.value[:120]
        return (
            f"{self.rejected_at} {self.source} {self.reason}"
            f"{'' if self.field is None else ' field=' + self.field}: {self.error}\n"
            f"  value ({size} bytes{kept}): {preview!r}"
        )


def dlq_record(
    rejection: Rejection,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    rejected_at: float | None = None,
    max_value_bytes: int = MAX_DLQ_VALUE_BYTES,
) -> DlqRecord:
    """Build the DLQ message for a rejected message (value kept as it came, unless too big)."""
    when = time() if rejected_at is None else rejected_at
    headers = [
        (HEADER_REASON, rejection.reason.encode()),
        (HEADER_FIELD, (rejection.field or "").encode()),
        (HEADER_ERROR, rejection.message.encode("utf-8", "backslashreplace")),
        (HEADER_SOURCE, f"{topic}/{partition}/{offset}".encode("utf-8", "backslashreplace")),
        (HEADER_REJECTED_AT, _rfc3339(when).encode()),
    ]
    if value is not None and len(value) > max_value_bytes:
        headers.append((HEADER_TRUNCATED_FROM, str(len(value)).encode()))
        value = value[:max_value_bytes]
    return DlqRecord(key=key, value=value, headers=headers)


def describe_dlq_message(headers: Headers, value: bytes | None) -> DlqEntry:
    """Read a DLQ message back; raises :class:`DlqFormatError` if its headers are not ours."""
    found = _header_dict(headers)
    missing = [
        name
        for name in (HEADER_REASON, HEADER_ERROR, HEADER_SOURCE, HEADER_REJECTED_AT)
        if name not in found
    ]
    if missing:
        raise DlqFormatError(
            f"not a scrapewatch DLQ message: expected headers {', '.join(missing)}, "
            f"got {sorted(found) or 'no headers'}"
        )
    topic, partition, offset = _parse_source(found[HEADER_SOURCE])
    truncated = found.get(HEADER_TRUNCATED_FROM)
    return DlqEntry(
        reason=found[HEADER_REASON],
        field=found.get(HEADER_FIELD) or None,
        error=found[HEADER_ERROR],
        topic=topic,
        partition=partition,
        offset=offset,
        rejected_at=found[HEADER_REJECTED_AT],
        value=value,
        truncated_from=int(truncated) if truncated and truncated.isdigit() else None,
    )


def _header_dict(headers: Headers) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    found: dict[str, str] = {}
    for name, raw in pairs:
        if name.startswith("scrapewatch.") and name not in found:
            if isinstance(raw, bytes | bytearray):
                found[name] = bytes(raw).decode("utf-8", "replace")
            else:
                found[name] = raw or ""
    return found


def _parse_source(source: str) -> tuple[str, int, int]:
    topic, _, rest = source.rpartition("/")
    topic, _, partition = topic.rpartition("/")
    try:
        return topic, int(partition), int(rest)
    except ValueError:
        raise DlqFormatError(
            f"header {HEADER_SOURCE}: expected 'topic/partition/offset', got {source!r}"
        ) from None


def _rfc3339(ts: float) -> str:
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
