"""Process-wide tuning shared by the long-running commands (worker, replay, bench)."""

from __future__ import annotations

import gc
import sys

__all__ = ["tune_gc", "tune_threads"]


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


def tune_threads(interval: float = 0.02) -> None:
    """Let a thread hold the GIL longer before handing it over.

    A worker runs two CPU-bound threads (the ingest bridge and the Faust event loop); with
    the default 5 ms they trade the GIL hundreds of times a second, each trade costing
    cache and a wake-up.
    """
    sys.setswitchinterval(interval)
