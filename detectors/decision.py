"""Deciding what alerts: calibrated thresholds, severity, cooldown, allowlist, learning gate.

Detectors only score; everything here wraps them (river's ``QuantileFilter`` /
``protect_anomaly_detector`` idea). Every class is picklable and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from river import stats

from detectors.alerts import SEVERITIES, Severity
from detectors.base import VersionedState

__all__ = [
    "DEFAULT_MIN_THRESHOLDS",
    "Allowlist",
    "Calibrator",
    "Cooldown",
    "Decider",
    "Decision",
    "SeverityScale",
    "may_learn",
    "severity_of",
]

#: Recommended fixed minimum threshold per detector name, in each detector's score units.
DEFAULT_MIN_THRESHOLDS: Mapping[str, float] = {
    "self_baseline": 6.0,  # standard deviations above the account's own mean
    "population": 2.0,  # doublings above the population p99 (4x p99)
    "enumeration": 1.5,  # doublings above the population p99 of 1 h / 24 h coverage
    "endpoint": 8.0,  # standard deviations above the endpoint's forecast
}

_isfinite = math.isfinite


class Calibrator(VersionedState):
    """Streaming threshold for one detector at a target alert rate, never below a minimum.

    The threshold is the ``1 - target_rate`` quantile of the scores seen (P² estimate,
    ``river.stats.Quantile``) clamped to ``[min_threshold, max_threshold]``; before
    ``warmup`` scores only ``min_threshold`` applies. The ceiling matters: the windows of
    a persistent crawler or farm can fill the top ``target_rate`` of all windows, and an
    uncapped quantile would then rise until the attacker no longer alerts.

    Parameters
    ----------
    target_rate
        Share of windows expected to alert once calibrated (0.001 = one in a thousand).
    min_threshold
        Fixed floor of the threshold, in the detector's score units.
    warmup
        Scores to see before the quantile is trusted.
    max_threshold
        Ceiling of the calibrated threshold (``None``: no ceiling).

    Examples
    --------
    >>> c = Calibrator(target_rate=0.01, min_threshold=1.0, warmup=100)
    >>> c.threshold
    1.0
    >>> for i in range(1000):
    ...     c.update(float(i % 100))
    >>> 95.0 < c.threshold < 100.0
    True
    """

    def __init__(
        self,
        target_rate: float = 0.001,
        min_threshold: float = 1.0,
        warmup: int = 1000,
        max_threshold: float | None = None,
    ) -> None:
        if not 0.0 < target_rate < 1.0:
            raise ValueError(f"target_rate must be in (0, 1), got {target_rate!r}")
        if max_threshold is not None and max_threshold < min_threshold:
            raise ValueError(
                f"max_threshold must be >= min_threshold ({min_threshold!r}), got {max_threshold!r}"
            )
        self.target_rate = target_rate
        self.min_threshold = min_threshold
        self.warmup = warmup
        self.max_threshold = max_threshold
        self.n = 0
        self._quantile = stats.Quantile(1.0 - target_rate)

    _TRANSIENT = ("_update",)
    _update: Callable[[float], None]  # the estimator's bound update (see ``_bind``)

    def update(self, score: float) -> None:
        """Add one score (every scored window, flagged or not, except allowlisted ones)."""
        if _isfinite(score):
            try:
                update = self._update
            except AttributeError:
                update = self._bind()
            update(score)
            self.n += 1

    def _bind(self) -> Callable[[float], None]:
        """The update of river's Rust estimator itself (the same result, no wrapper),
        bound once; called before the first update, whose flag it sets as river does."""
        q = self._quantile
        q._is_updated = True
        update: Callable[[float], None] = q._quantile.update
        self._update = update
        return update

    @property
    def threshold(self) -> float:
        """Current threshold: the calibrated quantile or the minimum, whichever is higher."""
        if self.n < self.warmup or not self._quantile._is_updated:
            return self.min_threshold
        q = self._quantile._quantile.get()
        if self.max_threshold is not None:
            q = min(q, self.max_threshold)
        return max(self.min_threshold, q)

    def __repr__(self) -> str:
        return (
            f"Calibrator(target_rate={self.target_rate}, min_threshold={self.min_threshold}, "
            f"warmup={self.warmup}, max_threshold={self.max_threshold}, n={self.n})"
        )


@dataclass(frozen=True, slots=True)
class SeverityScale:
    """Score-to-threshold ratios at which severity rises above ``low``."""

    medium: float = 1.5
    high: float = 2.5
    critical: float = 4.0


def severity_of(
    score: float, threshold: float, scale: SeverityScale | None = None
) -> Severity | None:
    """Severity of ``score`` against ``threshold``, or ``None`` when below it.

    >>> severity_of(0.9, 1.0), severity_of(1.0, 1.0), severity_of(3.0, 1.0), severity_of(9, 2)
    (None, 'low', 'high', 'critical')
    """
    if not math.isfinite(score) or threshold <= 0.0 or score < threshold:
        return None
    scale = scale or SeverityScale()
    ratio = score / threshold
    if ratio >= scale.critical:
        return "critical"
    if ratio >= scale.high:
        return "high"
    if ratio >= scale.medium:
        return "medium"
    return "low"


class Cooldown(VersionedState):
    """One alert per key per ``seconds`` of event time, unless the severity rises.

    Parameters
    ----------
    seconds
        Cooldown length in event-time seconds.

    Examples
    --------
    >>> c = Cooldown(seconds=600)
    >>> c.allow("account:a1", "low", now=0.0), c.allow("account:a1", "low", now=60.0)
    (True, False)
    >>> c.allow("account:a1", "high", now=120.0), c.allow("account:a1", "low", now=900.0)
    (True, True)
    """

    def __init__(self, seconds: float = 900.0) -> None:
        self.seconds = seconds
        self._last: dict[str, tuple[float, int]] = {}

    def allow(self, key: str, severity: Severity, now: float) -> bool:
        """Whether an alert for ``key`` may go out now; records it when it may."""
        rank = SEVERITIES.index(severity)
        last = self._last.get(key)
        if last is not None and now - last[0] < self.seconds and rank <= last[1]:
            return False
        self._last[key] = (now, rank)
        return True

    def prune(self, now: float) -> int:
        """Forget keys whose cooldown is over (bounded memory); returns how many."""
        stale = [k for k, (t, _) in self._last.items() if now - t >= self.seconds]
        for k in stale:
            del self._last[k]
        return len(stale)

    def __len__(self) -> int:
        return len(self._last)


class Allowlist(VersionedState):
    """Entities an operator vouched for: neither alerted nor learned from, maybe until a time.

    Examples
    --------
    >>> a = Allowlist()
    >>> a.add("account", "probe-1")
    >>> a.add("ip", "10.0.0.9", until=100.0)
    >>> a.contains("account", "probe-1"), a.contains("ip", "10.0.0.9", now=150.0)
    (True, False)
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], float] = {}

    def add(self, entity_type: str, entity: str, until: float | None = None) -> None:
        """Allowlist an entity, forever or until ``until`` (event time)."""
        self._entries[(entity_type, entity)] = math.inf if until is None else until

    def remove(self, entity_type: str, entity: str) -> None:
        """Take an entity off the list (no error when it was not on it)."""
        self._entries.pop((entity_type, entity), None)

    def contains(self, entity_type: str, entity: str, now: float | None = None) -> bool:
        """Whether the entity is allowlisted (at event time ``now`` when given)."""
        until = self._entries.get((entity_type, entity))
        return until is not None and (now is None or now < until)

    def __len__(self) -> int:
        return len(self._entries)


def may_learn(*, flagged: bool, allowlisted: bool = False) -> bool:
    """Whether a window may teach the models: not when it alerted, not when allowlisted.

    >>> may_learn(flagged=False), may_learn(flagged=True)
    (True, False)
    >>> may_learn(flagged=False, allowlisted=True)
    False
    """
    return not flagged and not allowlisted


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome for one scored window: whether to alert, at what severity, whether to learn.

    ``flagged`` is the score being over the threshold; ``alert`` is ``flagged`` after the
    allowlist and the cooldown.
    """

    score: float
    threshold: float
    severity: Severity | None
    flagged: bool
    alert: bool
    learn: bool


@dataclass
class Decider:
    """Calibrators per detector, one cooldown and one allowlist: a score in, a decision out.

    Each detector's calibrator has the detector's minimum threshold (``min_thresholds``,
    else ``default_min_threshold``) and a ceiling of ``max_factor`` times it.

    Examples
    --------
    >>> d = Decider(warmup=10)
    >>> d.decide("population", "account", "a1", 9.0, now=60.0).severity
    'critical'
    >>> d.decide("population", "account", "a1", 9.0, now=120.0).alert
    False
    >>> d.decide("population", "account", "a2", 0.1, now=120.0).learn
    True
    """

    target_rate: float = 0.001
    warmup: int = 1000
    max_factor: float | None = 2.0
    cooldown_seconds: float = 900.0
    min_thresholds: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_MIN_THRESHOLDS)
    )
    default_min_threshold: float = 1.0
    scale: SeverityScale = field(default_factory=SeverityScale)
    calibrators: dict[str, Calibrator] = field(default_factory=dict)
    cooldown: Cooldown = field(init=False)
    allowlist: Allowlist = field(default_factory=Allowlist)

    def __post_init__(self) -> None:
        self.cooldown = Cooldown(self.cooldown_seconds)

    def calibrator(self, detector: str) -> Calibrator:
        """The calibrator of ``detector``, created on first use."""
        cal = self.calibrators.get(detector)
        if cal is None:
            minimum = self.min_thresholds.get(detector, self.default_min_threshold)
            ceiling = None if self.max_factor is None else minimum * self.max_factor
            cal = Calibrator(self.target_rate, minimum, self.warmup, ceiling)
            self.calibrators[detector] = cal
        return cal

    def decide(
        self, detector: str, entity_type: str, entity: str, score: float, now: float
    ) -> Decision:
        """Judge one score, update the calibrator, apply allowlist and cooldown."""
        allowlisted = self.allowlist.contains(entity_type, entity, now)
        cal = self.calibrator(detector)
        threshold = cal.threshold
        severity = severity_of(score, threshold, self.scale)
        flagged = severity is not None
        if not allowlisted:
            cal.update(score)
        alert = (
            severity is not None
            and not allowlisted
            and self.cooldown.allow(f"{entity_type}:{entity}", severity, now)
        )
        return Decision(
            score=score,
            threshold=threshold,
            severity=severity,
            flagged=flagged,
            alert=alert,
            learn=may_learn(flagged=flagged, allowlisted=allowlisted),
        )
