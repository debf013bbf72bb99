"""Detection settings: one frozen value handed to every stage (no environment reads here).

``stream.settings`` builds a ``DetectionConfig`` from ``SCRAPEWATCH_*`` variables; replay and
tests build one directly. Everything the engine needs to be reproducible is in it, so two
runs with equal configs over the same events give the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from detectors.site import SENSITIVE_ROUTES

__all__ = ["DEFAULT_SENSITIVE_ROUTES", "DetectionConfig"]

#: Endpoints that expose personal data, one request per person: what a crawler enumerates.
#: The simulated shop's own list, so replaying a simulation needs no configuration.
DEFAULT_SENSITIVE_ROUTES: frozenset[str] = frozenset(SENSITIVE_ROUTES)


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    """Every knob of the detection engine.

    Parameters
    ----------
    window
        Tumbling window length in seconds of event time.
    lateness
        Allowed lateness: the watermark is the largest event time seen minus this.
    idle_timeout
        Wall-clock seconds without new events after which open windows close anyway.
    entity_ttl
        Event-time seconds after which an entity that was not seen is forgotten.
    known_routes
        Routes (``/api/users/{id}``) or endpoints (``GET /api/users/{id}``) that may become
        metric labels and endpoint-detector keys; empty = every templated route is known.
    sensitive_routes
        Routes or endpoints whose resources are personal data (profiles, phone numbers).
    hll_lg_k
        ``log2`` of the HLL sketch size for long horizons (4..21; 8 is ~6.5% error).
    top_k
        Top contributors kept per endpoint and window (evidence and ``top_share``).
    sample_ids
        Resource ids kept per entity window as evidence.
    model_version
        Stamped on every alert.
    endpoint_min_requests
        Endpoint windows with fewer requests are neither scored nor alerted.
    extra
        Free-form settings for detector constructors, by detector name.
    """

    window: float = 60.0
    lateness: float = 10.0
    idle_timeout: float = 30.0
    entity_ttl: float = 24 * 3600.0
    known_routes: frozenset[str] = frozenset()
    sensitive_routes: frozenset[str] = DEFAULT_SENSITIVE_ROUTES
    hll_lg_k: int = 8
    top_k: int = 5
    sample_ids: int = 10
    model_version: str = "scrapewatch-detectors-1"
    endpoint_min_requests: int = 30
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window <= 0:
            raise ValueError(f"window must be > 0 seconds, got {self.window}")
        if self.lateness < 0:
            raise ValueError(f"lateness must be >= 0 seconds, got {self.lateness}")
        if not 4 <= self.hll_lg_k <= 21:
            raise ValueError(f"hll_lg_k must be in 4..21, got {self.hll_lg_k}")

    def with_(self, **changes: Any) -> DetectionConfig:
        """A copy with some fields changed (``config.with_(window=30.0)``)."""
        return replace(self, **changes)
