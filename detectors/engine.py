"""The whole detection pipeline in one process: what replay runs, and what the streaming
worker must match (the parity test compares the two).

Events are routed to the ``AccountStage`` of ``partition_for(account or client IP)``, as
Kafka's default partitioner would; every stage's partials and summaries go to one
``EndpointStage``. Alerts come out in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from detectors.config import DetectionConfig
from detectors.partitioning import partition_for
from detectors.stages import AccountStage, EndpointStage, StageOutput

__all__ = ["Engine", "alert_order"]

_KEY_CACHE_LIMIT = 1_000_000


def alert_order(alert: dict[str, Any]) -> tuple[float, float, str, str, str]:
    """Sort key of alerts: emission time, window, entity, detector."""
    return (
        alert["emitted_at"],
        alert["window"]["start"],
        alert["entity_type"],
        alert["entity"],
        alert["detector"],
    )


class Engine:
    """Account stages (one per partition) feeding one endpoint stage.

    Examples
    --------
    >>> from detectors.events import Request
    >>> e = Engine(DetectionConfig(), partitions=2)
    >>> list(e.process([Request(ts=1.0, client_ip="10.0.0.1", method="GET", path="/",
    ...                         status=200)]))
    []
    >>> e.events, e.stats()["windows_closed"]
    (1, 1)
    """

    def __init__(self, config: DetectionConfig, partitions: int = 1) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.config = config
        self.partitions = partitions
        self.stages = [AccountStage(config, partition=p) for p in range(partitions)]
        self.endpoints = EndpointStage(config, sources=partitions)
        self.events = 0
        self.late_events = 0
        self.windows_closed = 0
        self.expired = 0
        self._keys: dict[str, int] = {}
        self._next_close = float("-inf")

    def _stage(self, key: str) -> AccountStage:
        if self.partitions == 1:
            return self.stages[0]
        p = self._keys.get(key)
        if p is None:
            p = partition_for(key, self.partitions)
            if len(self._keys) < _KEY_CACHE_LIMIT:
                self._keys[key] = p
        return self.stages[p]

    def _ingest(self, req: Any) -> None:
        account = req.account
        self._stage(req.client_ip if account is None else account).ingest(req)

    def process(self, events: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """Run ``events`` (``Request``s, in file order) and yield alerts, then flush."""
        yield from self.feed(events)
        yield from self.flush()

    def feed(self, events: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """Run ``events`` without flushing the windows still open at the end."""
        size, lateness = self.config.window, self.config.lateness
        single = self.stages[0] if self.partitions == 1 else None
        next_close = self._next_close
        n = 0
        ingest = single.ingest if single is not None else self._ingest
        try:
            for req in events:
                n += 1
                ingest(req)
                if req.ts >= next_close:
                    # the global watermark may have passed a window end: close what is due
                    watermark = req.ts - lateness
                    yield from self._advance(watermark)
                    next_close = (watermark // size + 1) * size + lateness
        finally:
            self.events += n
            self._next_close = next_close

    def _advance(self, watermark: float) -> list[dict[str, Any]]:
        outputs = []
        for stage in self.stages:
            stage.raise_watermark(watermark)
            outputs.append(stage.advance())
        return self._route(outputs, flush=False)

    def flush(self) -> list[dict[str, Any]]:
        """Close every open window (end of input); the remaining alerts."""
        return self._route([stage.flush() for stage in self.stages], flush=True)

    def _route(self, outputs: list[StageOutput], flush: bool) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        endpoints = self.endpoints
        for stage, out in zip(self.stages, outputs, strict=True):
            alerts.extend(out.alerts)
            for partial in out.partials:
                endpoints.add_partial(partial)
            for summary in out.summaries:
                endpoints.add_summary(summary)
            endpoints.source_watermark(stage.partition, stage.watermark)
            self.late_events += out.late_events
            self.windows_closed += out.windows_closed
            self.expired += len(out.expired)
        alerts.extend(endpoints.flush() if flush else endpoints.advance())
        alerts.sort(key=alert_order)
        return alerts

    def stats(self) -> dict[str, int]:
        """Counters for a replay summary."""
        return {
            "events": self.events,
            "late_events": self.late_events + self.endpoints.late,
            "windows_closed": self.windows_closed,
            "entities": sum(len(s.states) for s in self.stages),
            "expired": self.expired,
        }
