"""What the Faust agents do, as plain synchronous code: stages per partition, state, acks.

The agents (``stream.agents``) decode, call into here, and send what comes back. Keeping the
logic here makes it testable without Faust and keeps the agents a few lines long.

At-least-once without a changelog write per event: an entity's durable state is written
at most once per window close (changed states are written together, once a second); a
``requests.batches`` message is acknowledged (and so its offset committed) only when every
window it contributed to has closed and its state been written. A worker
that dies therefore re-reads exactly the batches whose windows were still open; their
events in windows closed since are in the restored state and are skipped as duplicates
(the checkpoint records the last source offset read).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from detectors.compiled import pure_requested
from detectors.config import DetectionConfig
from detectors.features import EndpointPartial, summary_from_dict, summary_to_dict
from detectors.stages import AccountStage, EndpointStage, StageOutput, entity_state
from stream.batches import Row, decode_batch
from stream.codec import JSONDecodeError, dumps, loads
from stream.state import StateStore, dump_state, load_state, stage_key

__all__ = ["MAX_STATS_BYTES", "AccountRuntime", "EndpointRuntime", "Outbox", "stats_messages"]

log = logging.getLogger(__name__)


def _fastingest() -> Any:
    """The C ingest (``stream/fastingest.pyx``), or None where it cannot run: not built,
    ``SCRAPEWATCH_PURE_PYTHON=1``, or ``detectors.stages`` running from its source (the
    C ingest calls the compiled ``AccountStage`` directly)."""
    if pure_requested():
        return None
    try:
        from stream import fastingest
    except Exception as exc:  # ImportError, or Cython's type check (ValueError, TypeError)
        log.warning("the C ingest is not used (%s); batches are decoded in Python", exc)
        return None
    return fastingest


_FAST = _fastingest()

H = TypeVar("H")  # the handle of a message to acknowledge (a Faust event)

STATS_FORMAT_VERSION = 1


#: Largest endpoint-stats message: a busy partition's close can carry thousands of account
#: summaries, and Kafka refuses messages over 1 MiB by default.
MAX_STATS_BYTES = 512 * 1024


def stats_messages(
    source: int, watermark: float | None, items: list[tuple[str, dict[str, Any]]]
) -> list[bytes]:
    """The endpoint-stats messages of one close: its partials and summaries, split into
    messages of at most :data:`MAX_STATS_BYTES`. Only the last carries the watermark, so
    the endpoint stage closes nothing before it has every part (one partition: in order).

    >>> [len(m) < 100 for m in stats_messages(0, 60.0, [])]
    [True]
    """
    msg: dict[str, Any] = {"v": STATS_FORMAT_VERSION, "source": source, "watermark": watermark}
    msg["partials"] = [x for kind, x in items if kind == "partials"]
    msg["summaries"] = [x for kind, x in items if kind == "summaries"]
    raw = dumps(msg)
    if len(raw) <= MAX_STATS_BYTES or len(items) <= 1:
        return [raw]
    half = len(items) // 2
    return stats_messages(source, None, items[:half]) + stats_messages(
        source, watermark, items[half:]
    )


@dataclass(slots=True)
class Outbox:
    """What the agent must send after a call: alerts and endpoint-stats messages."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    stats: list[bytes] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)
    endpoint_requests: dict[str, int] = field(default_factory=dict)
    windows_closed: int = 0
    late_events: int = 0
    expired: int = 0


@dataclass(slots=True)
class _Partition(Generic[H]):
    stage: AccountStage
    #: (handle, latest event time, offset in requests.batches) of unacknowledged messages
    pending: deque[tuple[H, float, int | None]] = field(default_factory=deque)
    last_offset: int = -1
    last_activity: float = field(default_factory=time.monotonic)
    #: entity states changed since the last write (None: expired, to delete)
    dirty: dict[str, Any] = field(default_factory=dict)
    checkpoint_due: bool = False
    #: offset in ``requests.batches`` of the next message this stage expects (None: not
    #: known, accept the first one); see :meth:`AccountRuntime.position`
    next_offset: int | None = None
    #: restored stages: the last source offset the previous owner had read (its events in
    #: windows closed by then are in the restored state)
    seen_upto: int = -1
    #: the C ingest of this stage (``stream.fastingest.Ingest``), None where it cannot run
    fast: Any = None

    def __post_init__(self) -> None:
        if _FAST is not None:
            self.fast = _FAST.Ingest(self.stage)


class AccountRuntime(Generic[H]):
    """One :class:`AccountStage` per assigned partition of ``requests.batches``."""

    def __init__(self, config: DetectionConfig, store: StateStore) -> None:
        self.config = config
        self.store = store
        self.partitions: dict[int, _Partition[H]] = {}
        #: stages of revoked partitions, until the rebalance says whether they come back
        self.parked: dict[int, _Partition[H]] = {}
        self.duplicates = 0

    # -- assignment --------------------------------------------------------------------
    def assign(self, partitions: Iterable[int]) -> None:
        """Create (or restore from the table) the stage of each newly assigned partition.

        A partition revoked and given back to this worker (every rebalance revokes every
        partition first) gets its parked stage back: its live state is exactly what it
        wrote, and the table does not hold what a stage took out of it. The batches not yet
        acknowledged come again and are skipped by offset (their events are in the stage).
        """
        for p in partitions:
            if p in self.partitions:
                continue
            parked = self.parked.pop(p, None)
            if parked is not None:
                self.partitions[p] = parked
                log.info("partition %d: back to this worker, its stage kept", p)
                continue
            stage = AccountStage(self.config, partition=p, loader=self._loader)
            blob = self.store.take(stage_key(p))
            next_offset = None
            seen_upto = -1
            if blob is not None:
                checkpoint = load_state(blob)
                stage.models = checkpoint["models"]
                stage.clock = checkpoint["clock"]
                # the first message whose events may not all be durable; absent before 0.3
                next_offset = checkpoint.get("resume_offset")
                seen_upto = checkpoint.get("source_offset", -1)
                log.info(
                    "partition %d: stage restored, watermark %s, resumes at batch offset %s",
                    p,
                    stage.watermark,
                    next_offset,
                )
            else:
                log.info("partition %d: no checkpoint in the table, a new stage", p)
            # checkpointed at the next commit point even if no window closes by then, so
            # that a later owner knows where this one started (see position())
            self.partitions[p] = _Partition(
                stage,
                next_offset=next_offset,
                seen_upto=seen_upto,
                checkpoint_due=True,
            )

    def revoke(self, partitions: Iterable[int]) -> None:
        """Write what revoked partitions changed and park their stages: a partition given
        back is taken up where it was (see :meth:`assign`); the others go to their new
        owner, with their unacknowledged batches, and :meth:`forget_parked` drops them."""
        for p in partitions:
            part = self.partitions.pop(p, None)
            if part is not None:
                self._write(p, part)
                part.pending.clear()  # handles of the old assignment: the batches come again
                self.parked[p] = part

    def forget_parked(self, assigned: Iterable[int]) -> None:
        """After a rebalance: drop the parked stages of partitions now owned elsewhere."""
        keep = set(assigned)
        gone = [p for p in self.parked if p not in keep]
        for p in gone:
            del self.parked[p]
        if self.parked or gone:
            log.info("rebalanced: kept parked %s, dropped %s", sorted(self.parked), gone)

    def _loader(self, key: str) -> Any:
        for part in self.partitions.values():
            if key in part.dirty:  # changed (or expired) here, not written yet
                return part.dirty[key]
        blob = self.store.take(key)
        return None if blob is None else entity_state(load_state(blob))

    def write_dirty(self) -> int:
        """Write every changed entity state and stage checkpoint to the table.

        Called before offsets are acknowledged (once a second, and on revocation). An
        entity that closed several windows since the last write is written once: under
        replay or catch-up speed that is many windows per record; in real time it is still
        one record per entity per window.
        """
        return sum(self._write(p, part) for p, part in self.partitions.items())

    def _write(self, partition: int, part: _Partition[H]) -> int:
        store = self.store
        for key, state in part.dirty.items():
            if state is None:
                store.delete(partition, key)
            else:
                store.put(partition, key, dump_state(state.to_record()))
        written = len(part.dirty)
        part.dirty.clear()
        if part.checkpoint_due:
            stage = part.stage
            checkpoint = {
                "models": stage.models,
                "clock": stage.clock,
                "resume_offset": self._resume_offset(part),
                "source_offset": part.last_offset,
            }
            store.put(partition, stage_key(partition), dump_state(checkpoint))
            part.checkpoint_due = False
        return written

    # -- processing ----------------------------------------------------------------------
    def position(self, partition: int) -> int | None:
        """The offset of the ``requests.batches`` message this partition's stage expects
        next (None when not known: a new stage takes whatever comes first).

        Messages must reach a stage in offset order: a batch skipped and delivered later
        would be taken for a re-delivery (its source offsets are below what the stage has
        seen) and its events lost. Faust has been seen to skip the first message after a
        rebalance that kept a partition on its worker; the agent compares each message
        with this position and reads the missing ones again (``stream.agents.InOrder``).

        A stage kept on this worker expects the message after the last it read (every
        event before it is in the stage). A stage restored from its checkpoint expects at
        most the checkpoint's resume offset: the events of earlier messages are all in
        written state (their windows had closed), so a first message below it is fine,
        and offsets are acknowledged only after a checkpoint, so Faust never starts
        beyond it.
        """
        return self._part(partition).next_offset

    def _part(self, partition: int) -> _Partition[H]:
        part = self.partitions.get(partition)
        if part is None:  # a message of a partition assigned before the signal arrived
            self.assign([partition])
            part = self.partitions[partition]
        return part

    def on_message(
        self, partition: int, raw: bytes, handle: H, message_offset: int | None = None
    ) -> tuple[Outbox, int]:
        """:meth:`on_batch` of one ``requests.batches`` message as it came; also returns
        how many events it held. The C ingest (``stream.fastingest``) reads the usual
        message straight into the stage; any other (a re-delivery, an unusual string, an
        older format) is decoded in Python. Raises :class:`~stream.errors.CodecError` for
        a message that is not a batch at all."""
        part = self._part(partition)
        fast = part.fast
        if fast is not None:
            done = fast.ingest(raw, max(part.last_offset, part.seen_upto))
            if done is not None:
                events, _first, last, max_ts = done
                self._at(part, message_offset)
                part.last_offset = last
                return self._ingested(partition, part, handle, max_ts, message_offset), events
        _source, offsets, rows = decode_batch(raw)
        return self.on_batch(partition, offsets, rows, handle, message_offset), len(rows)

    def on_batch(
        self,
        partition: int,
        offsets: Sequence[int],
        rows: Sequence[Row],
        handle: H,
        message_offset: int | None = None,
    ) -> Outbox:
        """Ingest one batch message (``offsets[i]`` is the source offset of ``rows[i]``, a
        ``Request``'s fields in order; ``message_offset`` its own offset in
        ``requests.batches``); close the windows its watermark allows."""
        part = self._part(partition)
        self._at(part, message_offset)
        stage = part.stage
        last = part.last_offset
        ingest = stage.ingest
        seen_upto = part.seen_upto
        if offsets and offsets[0] > last and offsets[0] > seen_upto:
            stage.ingest_all(rows)  # the usual case: no re-delivered event in it
            last = offsets[-1]
        else:
            # Re-delivered events: those this stage has seen, and, after a restore, those
            # the previous owner had seen in windows closed since (they are in the restored
            # state) are duplicates; the latter would otherwise be counted as late events.
            clock = stage.clock
            for offset, row in zip(offsets, rows, strict=True):
                if offset <= last or (
                    offset <= seen_upto and clock.index(row[0]) < clock.closed_until
                ):
                    self.duplicates += 1
                    last = max(last, offset)
                    continue
                last = offset
                ingest(row)
        # over every row, the skipped ones too: a batch that comes again is acknowledged
        # only once the windows its events sit in (in this stage) have closed
        max_ts = max([row[0] for row in rows]) if rows else float("-inf")
        part.last_offset = last
        return self._ingested(partition, part, handle, max_ts, message_offset)

    @staticmethod
    def _at(part: _Partition[H], message_offset: int | None) -> None:
        """Record that the message at ``message_offset`` was read (see :meth:`position`)."""
        if message_offset is not None and (
            part.next_offset is None or message_offset >= part.next_offset
        ):
            part.next_offset = message_offset + 1

    def _ingested(
        self,
        partition: int,
        part: _Partition[H],
        handle: H,
        max_ts: float,
        message_offset: int | None,
    ) -> Outbox:
        part.last_activity = time.monotonic()
        part.pending.append((handle, max_ts, message_offset))
        return self._close(partition, part, part.stage.advance())

    def tick(self, now: float, backlog: Callable[[int], bool] = lambda _p: False) -> Outbox:
        """Wall-clock pass: close the windows of partitions that went quiet.

        A partition with unread batches (``backlog``) is behind, not quiet: closing its
        windows by wall clock would turn its own queued events into late ones.
        """
        out = Outbox()
        for p, part in list(self.partitions.items()):
            now_or_none = None if backlog(p) else now
            self._merge(out, self._close(p, part, part.stage.advance(now_or_none)))
        return out

    def ackable(self) -> list[H]:
        """Handles whose every window has closed: safe to commit once :meth:`write_dirty`
        has run (the caller writes, flushes, then acknowledges)."""
        ready: list[H] = []
        for part in self.partitions.values():
            pending = part.pending
            for _ in range(self._closed_prefix(part)):
                ready.append(pending.popleft()[0])
        return ready

    def _closed_prefix(self, part: _Partition[H]) -> int:
        """How many of the oldest pending messages have every window closed."""
        stage = part.stage
        if not stage.open_windows():
            return len(part.pending)
        horizon = stage.watermark
        width = self.config.window
        n = 0
        for _handle, max_ts, _offset in part.pending:
            if (max_ts // width + 1) * width > horizon:
                break
            n += 1
        return n

    def _resume_offset(self, part: _Partition[H]) -> int | None:
        """Where a stage restored from this checkpoint must start reading: the first
        message with an event in a window still open (below it, every event is in a closed
        window, so in the written state), else the next message.

        A restored stage accepts its first message at or below this offset and then
        insists on consecutive offsets (see :meth:`position`).
        """
        n = self._closed_prefix(part)
        if n < len(part.pending):
            return part.pending[n][2]
        return part.next_offset

    def entities(self) -> int:
        return sum(len(p.stage.states) for p in self.partitions.values())

    def _close(self, partition: int, part: _Partition[H], result: StageOutput) -> Outbox:
        out = Outbox(
            alerts=list(result.alerts),
            windows_closed=result.windows_closed,
            late_events=result.late_events,
            expired=len(result.expired),
        )
        if not (result.windows_closed or result.updated or result.expired):
            return out
        dirty = part.dirty
        for key, state in result.updated:
            dirty[key] = state
        for key in result.expired:
            dirty[key] = None
        part.checkpoint_due = True
        for key, values in getattr(result, "scores", {}).items():
            out.scores.setdefault(key, []).extend(values)
        requests = out.endpoint_requests
        for partial in result.partials:
            requests[partial.endpoint] = requests.get(partial.endpoint, 0) + partial.requests
        if result.partials or result.summaries or result.windows_closed:
            out.stats.extend(
                stats_messages(
                    partition,
                    part.stage.watermark,
                    [("partials", p.to_dict()) for p in result.partials]
                    + [("summaries", summary_to_dict(s)) for s in result.summaries],
                )
            )
        return out

    @staticmethod
    def _merge(into: Outbox, other: Outbox) -> None:
        into.alerts.extend(other.alerts)
        into.stats.extend(other.stats)
        for k, v in other.scores.items():
            into.scores.setdefault(k, []).extend(v)
        for k, n in other.endpoint_requests.items():
            into.endpoint_requests[k] = into.endpoint_requests.get(k, 0) + n
        into.windows_closed += other.windows_closed
        into.late_events += other.late_events
        into.expired += other.expired


class EndpointRuntime(Generic[H]):
    """The single endpoint stage: combines every partition's partials, scores endpoints
    and correlates campaigns.

    Its checkpoint (the whole stage, pending partials included) is written when a window
    closes and otherwise at most every ``checkpoint_seconds``; the messages it has read
    are acknowledged only after a checkpoint that covers them.
    """

    KEY = "__endpoint_stage__"

    def __init__(
        self,
        config: DetectionConfig,
        sources: int,
        store: StateStore,
        checkpoint_seconds: float = 10.0,
    ) -> None:
        self.config = config
        self.sources = sources
        self.store = store
        self.checkpoint_seconds = checkpoint_seconds
        self.stage = EndpointStage(config, sources=sources)
        self.pending: list[H] = []
        self.covered: list[H] = []
        self.next_offset: int | None = None
        self.checkpoint_due = False
        self._last_checkpoint = time.monotonic()

    def restore(self) -> None:
        """Take the stage from the table (after a rebalance), or start afresh."""
        blob = self.store.take(self.KEY)
        self.stage = EndpointStage(self.config, sources=self.sources)
        self.next_offset = None
        if blob is not None:
            checkpoint = load_state(blob)
            if isinstance(checkpoint, EndpointStage):  # written before 0.3: the stage alone
                checkpoint = {"stage": checkpoint, "next_offset": None}
            self.stage = checkpoint["stage"]
            self.next_offset = checkpoint["next_offset"]
            log.info("endpoint stage restored, next stats offset %s", self.next_offset)
        self.pending, self.covered = [], []
        self.checkpoint_due = False

    def position(self) -> int | None:
        """The offset of the ``endpoint-stats`` message expected next (see
        :meth:`AccountRuntime.position`)."""
        return self.next_offset

    def on_stats(self, raw: bytes, handle: H, message_offset: int | None = None) -> Outbox:
        self.pending.append(handle)
        if message_offset is not None and (
            self.next_offset is None or message_offset >= self.next_offset
        ):
            self.next_offset = message_offset + 1
        try:
            msg = loads(raw)
            version = msg.get("v")
        except (JSONDecodeError, AttributeError):
            msg, version = None, "undecodable"
        if version != STATS_FORMAT_VERSION:
            log.error("endpoint-stats message %s skipped: format %r", message_offset, version)
            return Outbox()
        for p in msg["partials"]:
            self.stage.add_partial(EndpointPartial.from_dict(p))
        for s in msg["summaries"]:
            self.stage.add_summary(summary_from_dict(s))
        if msg["watermark"] is not None:  # None: more of the same close follows
            self.stage.source_watermark(int(msg["source"]), float(msg["watermark"]))
        return self._advance(None)

    def tick(self, now: float, backlog: bool = False) -> Outbox:
        return self._advance(None if backlog else now)

    def _advance(self, now: float | None) -> Outbox:
        alerts = self.stage.advance(now)
        due = time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
        if self.pending and (alerts or due or now is not None):
            self.checkpoint_due = True
        return Outbox(alerts=alerts)

    def write_checkpoint(self) -> None:
        """Write the stage if a checkpoint is due; the messages it covers become ackable.

        Called after the alerts of the closed windows are flushed (see
        ``Agents.commit_point``), never before.
        """
        if not self.checkpoint_due:
            return
        checkpoint = {"stage": self.stage, "next_offset": self.next_offset}
        self.store.put(0, self.KEY, dump_state(checkpoint))
        self._last_checkpoint = time.monotonic()
        self.covered.extend(self.pending)
        self.pending = []
        self.checkpoint_due = False

    def ackable(self) -> list[H]:
        ready, self.covered = self.covered, []
        return ready
