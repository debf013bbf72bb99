"""Event-time tumbling windows: window index, watermark, late events, idle close.

A window ``k`` covers ``[k * size, (k + 1) * size)`` of event time. The watermark is the
largest event time seen minus the allowed lateness; a window closes once the watermark
passes its end, or, when no event has arrived for ``idle_timeout`` seconds of wall clock,
at the next ``due(now)``. An event for a window that already closed is late: it is counted
(``late``) and not folded in, so no window is reported twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["WindowClock"]


class WindowClock:
    """Watermark and window bookkeeping for one stream (one partition or one source set).

    Examples
    --------
    >>> c = WindowClock(size=60.0, lateness=10.0)
    >>> c.observe(5.0), c.observe(65.0), c.due([0, 1])
    (0, 1, [])
    >>> c.observe(71.0), c.due([0, 1])
    (1, [0])
    >>> c.observe(30.0), c.late
    (None, 1)
    """

    __slots__ = (
        "_idle_since",
        "_seen",
        "closed_until",
        "idle_timeout",
        "late",
        "lateness",
        "size",
        "watermark",
    )

    def __init__(self, size: float, lateness: float = 0.0, idle_timeout: float = 30.0) -> None:
        # floats whatever came in: the compiled build stores C doubles (windows.pxd), and
        # both builds must give the same window starts (60.0, not 60, in an alert)
        self.size = float(size)
        self.lateness = float(lateness)
        self.idle_timeout = float(idle_timeout)
        self.watermark = -math.inf
        #: Windows with an index below this are closed.
        self.closed_until = -(2**62)
        self.late = 0
        self._seen = False
        self._idle_since: float | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # one format for both builds (a C class has no __slots__ to pickle); checkpoints
        # written before this method existed still load: every attribute is settable
        return (
            _restore,
            (
                self.size,
                self.lateness,
                self.idle_timeout,
                self.watermark,
                self.closed_until,
                self.late,
                self._seen,
                self._idle_since,
            ),
        )

    def index(self, ts: float) -> int:
        """Index of the window holding event time ``ts``."""
        return math.floor(ts / self.size)

    def start(self, k: int) -> float:
        """Start of window ``k`` in event time."""
        return k * self.size

    def observe(self, ts: float) -> int | None:
        """Advance the watermark with ``ts``; its window index, or ``None`` when late."""
        q = ts / self.size
        k = int(q)  # math.floor(q), spelled so that the compiled build does it in C
        if k > q:
            k -= 1
        if k < self.closed_until:
            self.late += 1
            return None
        wm = ts - self.lateness
        if wm > self.watermark:  # noqa: PLR1730  (per event: a comparison beats max())
            self.watermark = wm
        self._seen = True
        return k

    def touch(self) -> None:
        """Record activity without an event time (an input other than events arrived)."""
        self._seen = True

    def raise_to(self, watermark: float) -> None:
        """Raise the watermark to ``watermark`` (never lowers it)."""
        self.watermark = max(self.watermark, float(watermark))

    def due(self, open_windows: Iterable[int], now: float | None = None) -> list[int]:
        """Windows among ``open_windows`` to close now, oldest first; marks them closed.

        With ``now`` (wall clock), a stream that saw no event for ``idle_timeout`` seconds
        closes every open window.
        """
        idle = False
        if now is not None:
            # only the wall-clock pass consumes "seen": the event-time passes made after
            # every batch must not hide a busy stream's activity from it
            if self._seen or self._idle_since is None:
                self._idle_since = now
            elif now - self._idle_since >= self.idle_timeout:
                idle = True
            self._seen = False
        size, wm = self.size, self.watermark
        ready = sorted(k for k in open_windows if idle or (k + 1) * size <= wm)
        if ready:
            self.closed_until = max(self.closed_until, ready[-1] + 1)
            if idle:
                self.watermark = max(wm, self.closed_until * size)
        return ready

    def close_all(self, open_windows: Iterable[int]) -> list[int]:
        """Every open window, oldest first (end of stream); marks them closed."""
        ready = sorted(open_windows)
        if ready:
            self.closed_until = max(self.closed_until, ready[-1] + 1)
            self.watermark = max(self.watermark, self.closed_until * self.size)
        return ready


def _restore(  # noqa: PLR0917  (pickle calls it with the fields in order)
    size: float,
    lateness: float,
    idle_timeout: float,
    watermark: float,
    closed_until: int,
    late: int,
    seen: bool,
    idle_since: float | None,
) -> WindowClock:
    clock = WindowClock(size, lateness, idle_timeout)
    clock.watermark, clock.closed_until, clock.late = watermark, closed_until, late
    clock._seen, clock._idle_since = seen, idle_since
    return clock
