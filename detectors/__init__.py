"""Pure detection logic: features, windows, river detectors, decisions, simulator.

Imports only the standard library, river, numpy and datasketches: no Kafka, Faust or
Prometheus (``tests/unit/test_purity.py`` proves it).
"""

from __future__ import annotations

__all__: list[str] = []

from detectors import compiled as _compiled

# before any hot-path module is imported: SCRAPEWATCH_PURE_PYTHON=1, or a stale extension
# in a source tree, runs that module from its .py (see detectors/compiled.py)
_compiled.install()
