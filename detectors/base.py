"""The detector protocol every scoring model in ``detectors`` follows.

A detector scores a feature vector (``Mapping[str, float]``); higher means more anomalous.
It never decides: thresholds, calibration, cooldown and severity live in
``detectors.decision``. It must be picklable (its state travels through Kafka changelogs and
model snapshots), deterministic for a given ``seed``, return finite scores, and tolerate
missing features (treat them as absent, not as zero, unless documented otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["STATE_VERSION", "Detector", "Features"]

Features = Mapping[str, float]

#: Bumped whenever the pickled layout of any detector or entity state changes incompatibly;
#: loaders refuse state of another version with a clear error instead of misreading it.
STATE_VERSION = 1


@runtime_checkable
class Detector(Protocol):
    """``learn_one`` / ``score_one`` in the river style, plus the baselines for reasons."""

    def learn_one(self, x: Features) -> None:
        """Update the model with one observation judged normal."""

    def score_one(self, x: Features) -> float:
        """Anomaly score of ``x`` (higher is more anomalous; finite; 0.0 when unsure)."""

    def baselines(self) -> dict[str, float]:
        """What "normal" is for each feature the detector knows (for alert reasons)."""
