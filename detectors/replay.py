"""Offline replay: run the engine over a file of events, in event time, deterministically.

The parser is injected (``stream.events.parse_event`` for JSON lines, a combined-log adapter
for access logs), so this module stays free of I/O libraries: it counts what does not
parse (never fatal), reports progress, and summarises the run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from detectors.config import DetectionConfig
from detectors.engine import Engine
from detectors.events import Request

__all__ = ["ReplayStats", "replay"]

_PROGRESS_MASK = (1 << 16) - 1  # look at the clock every 65,536 lines
_BAD_EXAMPLES = 5


@dataclass
class ReplayStats:
    """What a replay did: counts, bad lines with a few examples, alerts, speed."""

    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)
    bad_examples: list[str] = field(default_factory=list)
    late_events: int = 0
    windows_closed: int = 0
    entities: int = 0
    alerts: int = 0
    alerts_by: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None

    @property
    def events_per_second(self) -> float:
        """Events replayed per second of wall clock."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_second(self) -> float:
        """Events replayed per second of this process's CPU time (fair on a busy host)."""
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "lines": self.lines,
            "events": self.events,
            "bad_lines": self.bad_lines,
            "bad_reasons": dict(sorted(self.bad_reasons.items())),
            "bad_examples": self.bad_examples,
            "late_events": self.late_events,
            "windows_closed": self.windows_closed,
            "entities": self.entities,
            "alerts": self.alerts,
            "alerts_by": dict(sorted(self.alerts_by.items())),
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "events_per_second": round(self.events_per_second),
            "events_per_cpu_second": round(self.events_per_cpu_second),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }


def replay(
    lines: Iterable[Any],
    parse: Callable[[Any], Request | Any],
    emit: Callable[[dict[str, Any]], None],
    *,
    config: DetectionConfig | None = None,
    partitions: int = 1,
    progress: Callable[[ReplayStats], None] | None = None,
    progress_seconds: float = 5.0,
) -> ReplayStats:
    """Parse ``lines`` with ``parse``, run them through an ``Engine``, ``emit`` each alert.

    ``parse`` returns a ``Request`` or anything else for a bad line (a rejection with
    ``reason`` and ``message`` attributes is reported as such).
    """
    stats = ReplayStats()
    engine = Engine(config or DetectionConfig(), partitions)
    started = time.perf_counter()
    cpu_started = time.process_time()
    next_report = started + progress_seconds

    first: float | None = None
    last: Request | None = None

    def requests() -> Iterator[Request]:
        nonlocal next_report, first, last
        n = 0
        for raw in lines:
            n += 1
            req = parse(raw)
            if type(req) is Request:
                if first is None:
                    first = req.ts
                last = req
                yield req
            else:
                _bad(stats, n, req)
            if not n & _PROGRESS_MASK and progress is not None:
                now = time.perf_counter()
                if now >= next_report:
                    next_report = now + progress_seconds
                    stats.lines, stats.seconds = n, now - started
                    stats.events = n - stats.bad_lines
                    progress(stats)
        stats.lines = n

    for alert in engine.process(requests()):
        stats.alerts += 1
        stats.alerts_by[f"{alert['detector']}/{alert['severity']}"] += 1
        emit(alert)
    stats.seconds = time.perf_counter() - started
    stats.cpu_seconds = time.process_time() - cpu_started
    counts = engine.stats()
    stats.events = counts["events"]
    stats.late_events = counts["late_events"]
    stats.windows_closed = counts["windows_closed"]
    stats.entities = counts["entities"]
    stats.first_ts, stats.last_ts = first, None if last is None else last.ts
    return stats


def _bad(stats: ReplayStats, line: int, rejection: Any) -> None:
    stats.bad_lines += 1
    reason = str(getattr(rejection, "reason", "unparsable"))
    stats.bad_reasons[reason] += 1
    if len(stats.bad_examples) < _BAD_EXAMPLES:
        message = getattr(rejection, "message", repr(rejection))
        stats.bad_examples.append(f"line {line}: {message}")
