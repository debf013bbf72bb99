"""Builds alert dictionaries in the ``alert.v1`` shape (the schema ships in ``stream``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = ["SCHEMA_VERSION", "SEVERITIES", "Severity", "alert_id", "make_alert"]

SCHEMA_VERSION = 1
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
_ACTIONS: dict[str, tuple[str, int]] = {
    "low": ("monitor", 3600),
    "medium": ("challenge", 3600),
    "high": ("rate_limit", 6 * 3600),
    "critical": ("block", 24 * 3600),
}


def alert_id(
    entity_type: str, entity: str, detector: str, window_start: float, severity: str
) -> str:
    """Deterministic id: the same decision on a replay or redelivery gets the same id.

    >>> alert_id("account", "a1", "population", 60.0, "high") == alert_id(
    ...     "account", "a1", "population", 60.0, "high")
    True
    """
    raw = f"{entity_type}\x1f{entity}\x1f{detector}\x1f{window_start:.3f}\x1f{severity}"
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def make_alert(
    *,
    entity_type: str,
    entity: str,
    detector: str,
    score: float,
    threshold: float,
    severity: Severity,
    window: tuple[float, float],
    features: Mapping[str, tuple[float, float | None]],
    reasons: Sequence[str],
    evidence: Mapping[str, Any],
    model_version: str,
    emitted_at: float,
) -> dict[str, Any]:
    """One alert as a plain dict, ready for ``orjson.dumps`` and schema validation."""
    action, ttl = _ACTIONS[severity]
    return {
        "schema_version": SCHEMA_VERSION,
        "alert_id": alert_id(entity_type, entity, detector, window[0], severity),
        "entity_type": entity_type,
        "entity": entity,
        "detector": detector,
        "score": float(score),
        "threshold": float(threshold),
        "severity": severity,
        "window": {"start": float(window[0]), "end": float(window[1])},
        "features": {
            name: {"value": float(v), "baseline": None if b is None else float(b)}
            for name, (v, b) in features.items()
        },
        "reasons": list(reasons),
        "evidence": dict(evidence),
        "suggested_action": {"action": action, "ttl_seconds": ttl},
        "model_version": model_version,
        "emitted_at": float(emitted_at),
    }
