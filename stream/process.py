"""Process-wide tuning shared by the long-running commands (worker, replay, bench)."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Collect cyclic garbage less often.

    The hot path allocates a few short-lived objects per event (freed by reference
    counting, not by the collector), and the state holds many long-lived ones; with the
    default threshold (700 allocations) CPython runs a generation-0 collection every few
    hundred events and walks ever more state in the older generations. Objects that exist
    at start-up are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
