"""Pure detection logic: features, windows, river detectors, decisions, simulator.

Imports only the standard library, river, numpy and datasketches: no Kafka, Faust or
Prometheus (``tests/unit/test_purity.py`` proves it).
"""

from __future__ import annotations

__all__: list[str] = []
