"""The decode stage of the hot path: a consumed batch in, events + DLQ records + counts out.

Plain synchronous code over confluent-kafka ``Message`` objects (or anything with the same
six methods), so it is tested without a broker and costs one :func:`parse_event` per
message. Counts come out per batch, ready for :meth:`stream.metrics.Metrics.count_events`
and :meth:`~stream.metrics.Metrics.count_dlq`.

>>> class Msg:
...     def __init__(self, value, offset):
...         self._value, self._offset = value, offset
...     def value(self): return self._value
...     def key(self): return None
...     def topic(self): return "requests"
...     def partition(self): return 0
...     def offset(self): return self._offset
...     def error(self): return None
>>> good = (b'{"ts": 1714564800, "client_ip": "10.0.0.1", "method": "GET", "path": "/",'
...         b' "status": 200}')
>>> batch = decode_messages([Msg(good, 7), Msg(b"{", 8)])
>>> [(p, o, r.path) for p, o, r in batch.events], batch.results, batch.reasons
([(0, 7, '/')], {'valid': 1, 'rejected': 1, 'kafka_error': 0}, {'not_json': 1})
>>> batch.dlq[0].value, batch.positions
(b'{', {('requests', 0): 9})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from time import monotonic, time
from typing import Any, Final, Protocol

from detectors.compiled import pure_requested
from detectors.events import Request
from stream.batches import encode_rows
from stream.codec import dumps
from stream.dlq import DlqRecord, dlq_record
from stream.errors import DlqDeliveryError
from stream.events import Rejection, parse_event

try:  # the C decode stage (stream/fastdecode.pyx); absent without a C compiler
    from stream import fastdecode as _native
except ImportError:  # pragma: no cover  (every build here has a C compiler)
    _native = None  # type: ignore[assignment]  # the module, or None where it is not built

__all__ = [
    "RESULTS",
    "DecodedBatch",
    "DlqProducer",
    "ForwardBatch",
    "KafkaMessage",
    "decode_messages",
    "event_parser",
    "forward_batch",
    "native_available",
    "produce_dlq",
    "route_batch",
]

log = logging.getLogger(__name__)

#: Label values of the events-by-result counts this stage produces.
RESULTS: Final = ("valid", "rejected", "kafka_error")
# confluent_kafka.KafkaError._PARTITION_EOF; a literal so this module stays client-free
# (a unit test checks it against the library).
_PARTITION_EOF: Final = -191


class KafkaMessage(Protocol):
    """What the decoder needs of a consumed message (confluent-kafka's ``Message``)."""

    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def error(self) -> Any: ...


class DlqProducer(Protocol):
    """What :func:`produce_dlq` needs of a producer (confluent-kafka's ``Producer``)."""

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
    ) -> None: ...
    def poll(self, timeout: float = -1.0) -> int: ...
    def flush(self, timeout: float = -1.0) -> int: ...


@dataclass(slots=True)
class DecodedBatch:
    """The outcome of decoding one consumed batch.

    ``partitions`` maps each source partition to its valid events' offsets and
    ``Request``s in consumption order (``events`` flattens them); ``dlq`` the
    records to produce for rejected messages; ``results`` counts by result (see
    :data:`RESULTS`); ``reasons`` counts rejections by reason; ``positions`` maps
    ``(topic, partition)`` to the next offset to commit once events and DLQ records are
    safe; ``kafka_errors`` describes messages that carried a Kafka error instead of data.
    """

    partitions: dict[int, tuple[list[int], list[Request]]] = field(default_factory=dict)
    dlq: list[DlqRecord] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    kafka_errors: list[str] = field(default_factory=list)

    @property
    def events(self) -> list[tuple[int, int, Request]]:
        """The valid events as ``(partition, offset, Request)``, partition by partition."""
        return [
            (p, off, req)
            for p, (offsets, reqs) in self.partitions.items()
            for off, req in zip(offsets, reqs, strict=True)
        ]


def decode_messages(
    messages: Iterable[KafkaMessage], *, rejected_at: float | None = None
) -> DecodedBatch:
    """Validate every message of a batch; nothing raises for bad input.

    Partition-EOF notices are skipped (they carry no data); other Kafka errors are counted
    as ``kafka_error`` and logged. ``rejected_at`` (epoch seconds, default now) stamps the
    DLQ records of this batch.
    """
    batch = DecodedBatch()
    parts = batch.partitions
    positions = batch.positions
    now = time() if rejected_at is None else rejected_at
    valid = rejected = kafka_error = 0
    for msg in messages:
        error = msg.error()
        if error is not None:
            kafka_error += _kafka_error(msg, error, batch.kafka_errors)
            continue
        value = msg.value()
        partition = msg.partition() or 0
        offset = msg.offset()
        offset = -1 if offset is None else offset
        topic = msg.topic() or ""
        positions[(topic, partition)] = offset + 1
        try:
            result = parse_event(value)
        except Exception as exc:  # the contract says never; a bug must still not stop the stream
            result = _failed(exc, topic, partition, offset)
        if type(result) is Request:
            valid += 1
            part = parts.get(partition)
            if part is None:
                part = parts[partition] = ([], [])
            part[0].append(offset)
            part[1].append(result)
            continue
        assert isinstance(result, Rejection)  # for mypy: parse_event returns one or the other
        rejected += 1
        reasons = batch.reasons
        reasons[result.reason] = reasons.get(result.reason, 0) + 1
        batch.dlq.append(
            dlq_record(
                result,
                value,
                topic=topic,
                partition=partition,
                offset=offset,
                key=msg.key(),
                rejected_at=now,
            )
        )
    batch.results.update(valid=valid, rejected=rejected, kafka_error=kafka_error)
    if rejected:
        log.info("batch: %d valid, %d rejected %s", valid, rejected, batch.reasons)
    return batch


@dataclass(slots=True)
class ForwardBatch:
    """What the ingest bridge sends for one consumed batch (see :func:`forward_batch`).

    ``messages`` are the ``requests.batches`` values, as ``(partition, value)`` in offset
    order within each partition; ``dlq``, ``results``, ``reasons``, ``positions`` (keyed
    by partition here) and ``kafka_errors`` are as in :class:`DecodedBatch`; ``native``
    counts the events the C decode stage validated itself (the others went through
    :func:`~stream.events.parse_event`).
    """

    messages: list[tuple[int, bytes]] = field(default_factory=list)
    dlq: list[DlqRecord] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)
    kafka_errors: list[str] = field(default_factory=list)
    native: int = 0


def native_available() -> bool:
    """Whether :func:`forward_batch` runs the C decode stage (compiled, and not
    ``SCRAPEWATCH_PURE_PYTHON=1``)."""
    return _native is not None and not pure_requested()


def event_parser() -> Callable[[bytes | bytearray | memoryview | None], Request | Rejection]:
    """:func:`~stream.events.parse_event`, by the C decode stage where it runs: the same
    answer for every message (what it declines, ``parse_event`` judges), in a fraction of
    the time. ``scrapewatch replay`` parses its JSON lines with it."""
    if native_available():
        assert _native is not None
        parser: Callable[[bytes | bytearray | memoryview | None], Request | Rejection]
        parser = _native.RequestParser(parse_event)
        return parser
    return parse_event


def forward_batch(
    messages: Sequence[KafkaMessage],
    max_events: int,
    *,
    rejected_at: float | None = None,
    native: bool | None = None,
) -> ForwardBatch:
    """Validate a consumed batch and encode its valid events as ``requests.batches``
    messages of at most ``max_events`` events each; nothing raises for bad input.

    With the C decode stage (``native``, by default when :func:`native_available`), the
    events that look like what producers send are validated and encoded without the GIL,
    so the bridge thread runs beside the agents instead of taking turns with them; every
    other message goes through :func:`~stream.events.parse_event`, whose verdict stands.
    Both give the same rows and the same rejections (``tests/unit/stream/
    test_fastdecode.py``).
    """
    if max_events < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    if native if native is not None else native_available():
        if _native is None:
            raise RuntimeError("the C decode stage is not built (see `make build`)")
        return _forward_native(messages, max_events, rejected_at)
    decoded = decode_messages(messages, rejected_at=rejected_at)
    out = ForwardBatch(
        dlq=decoded.dlq,
        results=decoded.results,
        reasons=decoded.reasons,
        positions={p: off for (_t, p), off in decoded.positions.items()},
        kafka_errors=decoded.kafka_errors,
    )
    for partition, (offsets, requests) in decoded.partitions.items():
        for i in range(0, len(offsets), max_events):
            j = i + max_events
            out.messages.append((partition, encode_rows(partition, offsets[i:j], requests[i:j])))
    return out


def _reference_row(value: bytes | None) -> bytes | Rejection:
    """The C stage's fallback: the encoded row of a valid event, or its rejection."""
    try:
        result = parse_event(value)
    except Exception as exc:  # the contract says never; a bug must still not stop the stream
        result = _failed(exc, "requests", -1, -1)
    if type(result) is Request:
        return dumps(tuple(result))
    assert isinstance(result, Rejection)
    return result


def _forward_native(
    messages: Sequence[KafkaMessage], max_events: int, rejected_at: float | None
) -> ForwardBatch:
    assert _native is not None
    batches, rejected, errors, positions, (valid, declined) = _native.encode_messages(
        messages if type(messages) is list else list(messages), _reference_row, max_events
    )
    out = ForwardBatch(
        messages=batches, positions=positions, native=valid - (declined - len(rejected))
    )
    kafka_error = 0
    for msg in errors:
        kafka_error += _kafka_error(msg, msg.error(), out.kafka_errors)
    if rejected:
        now = time() if rejected_at is None else rejected_at
        reasons = out.reasons
        for msg, rejection in rejected:
            reasons[rejection.reason] = reasons.get(rejection.reason, 0) + 1
            offset = msg.offset()
            out.dlq.append(
                dlq_record(
                    rejection,
                    msg.value(),
                    topic=msg.topic() or "",
                    partition=msg.partition() or 0,
                    offset=-1 if offset is None else offset,
                    key=msg.key(),
                    rejected_at=now,
                )
            )
        log.info("batch: %d valid, %d rejected %s", valid, len(rejected), reasons)
    out.results.update(valid=valid, rejected=len(rejected), kafka_error=kafka_error)
    return out


def produce_dlq(
    producer: DlqProducer, dlq_topic: str, records: list[DlqRecord], *, timeout: float = 30.0
) -> None:
    """Produce ``records`` to ``dlq_topic`` and wait until every one is acknowledged.

    Raises :class:`DlqDeliveryError` if any record fails or is still queued after
    ``timeout`` seconds: the caller must then not commit the batch's offsets.
    """
    if not records:
        return
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    deadline = monotonic() + timeout
    for record in records:
        while True:
            try:
                producer.produce(
                    dlq_topic,
                    value=record.value,
                    key=record.key,
                    headers=record.headers,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                if monotonic() > deadline:
                    raise DlqDeliveryError(
                        f"DLQ topic {dlq_topic!r}: producer queue still full after {timeout} s"
                    ) from None
                producer.poll(0.1)
    queued = producer.flush(max(0.0, deadline - monotonic()))
    if failures or queued:
        raise DlqDeliveryError(
            f"DLQ topic {dlq_topic!r}: {len(failures)} of {len(records)} records failed"
            f"{' (first: ' + failures[0] + ')' if failures else ''}, "
            f"{queued} still queued after {timeout} s"
        )


def route_batch(
    consumer_msgs: Iterable[KafkaMessage],
    producer: DlqProducer,
    dlq_topic: str,
    *,
    timeout: float = 30.0,
) -> DecodedBatch:
    """Decode a consumed batch and deliver its rejections to ``dlq_topic`` before returning."""
    batch = decode_messages(consumer_msgs)
    produce_dlq(producer, dlq_topic, batch.dlq, timeout=timeout)
    return batch


def _failed(exc: Exception, topic: str, partition: int, offset: int) -> Rejection:
    log.exception("parse_event raised at %s/%d/%d", topic, partition, offset, exc_info=exc)
    return Rejection(
        "bad_value", None, f"message: could not be validated ({type(exc).__name__}: {exc})"
    )


def _kafka_error(msg: KafkaMessage, error: Any, found: list[str]) -> int:
    """1 for a Kafka error in place of a message (described in ``found``, logged), 0 for
    a partition-EOF notice, which carries no data."""
    if _code(error) == _PARTITION_EOF:
        return 0
    where = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
    found.append(f"{where}: {error}")
    log.warning("Kafka error instead of a message at %s: %s", where, error)
    return 1


def _code(error: Any) -> Any:
    code = getattr(error, "code", None)
    return code() if callable(code) else None
