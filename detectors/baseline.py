"""Self baseline: each account's window against the account's own recent history.

One ``SelfBaseline`` lives per tracked account, so it is a handful of floats in a
``__slots__`` class (one ``array('d')`` for means and variances), not a river object.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from math import sqrt
from typing import Any

from detectors.base import STATE_VERSION, Features, check_state_version

__all__ = ["DEFAULT_BASELINE_FEATURES", "SelfBaseline"]

#: Feature -> (is a count, floor on the standard deviation in transformed units). Counts are
#: compared as log1p (a z of 1 with the floor 0.5 is a ~1.65x jump); the others are ratios,
#: clamped to 0..1 and compared as they are.
DEFAULT_BASELINE_FEATURES: Mapping[str, tuple[bool, float]] = {
    "requests": (True, 0.5),
    "distinct_resources": (True, 0.5),
    "distinct_sensitive": (True, 0.5),
    "auth_failures": (True, 0.5),
    "sequential_walk": (False, 0.15),
    "sensitive_share": (False, 0.15),
    "error_ratio": (False, 0.15),
}

_DEFAULT_SPEC = tuple((n, log, floor) for n, (log, floor) in DEFAULT_BASELINE_FEATURES.items())
_NAN = float("nan")
_MAX_COUNT = 1e12
_HUGE = 1e300


def _spec(features: Mapping[str, tuple[bool, float]]) -> tuple[tuple[str, bool, float], ...]:
    """The feature table as a flat tuple (prebuilt for the default table: hot path)."""
    if features is DEFAULT_BASELINE_FEATURES:
        return _DEFAULT_SPEC
    return tuple((name, log, floor) for name, (log, floor) in features.items())


def _transform(raw: float, log: bool) -> float:
    """A feature value in the baseline's units: ``log1p`` of a count, a ratio clamped to
    0..1 (``max``/``min`` as comparisons that keep their tie rule: C in the compiled build)."""
    c = 0.0 if raw < 0.0 else raw  # max(raw, 0.0)
    if log:
        return math.log1p(_MAX_COUNT if c > _MAX_COUNT else c)
    return 1.0 if c > 1.0 else c


def _learn_stats(
    stats: array[float],
    spec: tuple[tuple[str, bool, float], ...],
    x: Features,
    alpha: float,
    clip: float,
) -> None:
    """``SelfBaseline.learn_one``'s update of ``stats`` (flat, C doubles in the compiled
    build)."""
    get = x.get
    i = 0
    for name, log, floor in spec:
        raw = get(name)
        if raw is not None:
            r = float(raw)
            if -_HUGE < r < _HUGE:  # also skips NaN
                v = _transform(r, log)
                mean = stats[i]
                if mean != mean:  # noqa: PLR0124  (NaN, without a call): first observation
                    stats[i] = v
                else:
                    var = stats[i + 1]
                    sd = sqrt(var)
                    bound = clip * (floor if floor > sd else sd)
                    d = v - mean
                    d = -bound if d < -bound else (bound if d > bound else d)
                    stats[i] = mean + alpha * d
                    stats[i + 1] = (1.0 - alpha) * (var + alpha * d * d)
        i += 2


def _score_stats(
    stats: array[float],
    spec: tuple[tuple[str, bool, float], ...],
    x: Features,
    weight: float,
    cap: float,
) -> float:
    """``SelfBaseline.score_one``'s largest positive z (flat, as ``_learn_stats``)."""
    get = x.get
    best = 0.0
    i = 0
    for name, log, floor in spec:
        raw = get(name)
        mean = stats[i]
        if raw is not None and mean == mean:  # noqa: PLR0124  (a value, and a mean: not NaN)
            r = float(raw)
            if -_HUGE < r < _HUGE:
                v = _transform(r, log)
                if v > mean:
                    if not log:
                        v = mean + weight * (v - mean)
                    sd = sqrt(stats[i + 1])
                    z = (v - mean) / (floor if floor > sd else sd)
                    if z > best:  # noqa: PLR1730  (a C comparison; max() is a call)
                        best = z
        i += 2
    return cap if best > cap else best


class SelfBaseline:
    """EWMA mean and variance per feature for one entity; score = largest positive z.

    Only rises count (an account doing less than usual is not scraping). Each feature's
    standard deviation has a floor, so a quiet account's first busy window gives a large
    but finite z, and learning is winsorised at ``clip`` standard deviations so a single
    odd window cannot blow the variance up. Scores 0.0 until ``warmup`` windows are learned.

    Parameters
    ----------
    alpha
        EWMA weight of the newest window (0.05 ~ a memory of 20 windows).
    warmup
        Windows to learn before scoring.
    prior_requests
        When scoring, a ratio is shrunk towards the entity's mean as if the window had
        ``prior_requests`` more requests at the usual ratio: one request that happens to
        hit a sensitive route or fail is not "100% instead of 2%".
    clip
        Winsorising bound, in standard deviations, applied when learning.
    cap
        Largest score returned (keeps downstream arithmetic sane).
    features
        Feature name -> (is a count: log1p transform, else a 0..1 ratio; std floor);
        shared, never copied per entity.

    Examples
    --------
    >>> b = SelfBaseline(warmup=3)
    >>> for _ in range(5):
    ...     b.learn_one({"requests": 10.0, "distinct_resources": 3.0})
    >>> b.score_one({"requests": 10.0, "distinct_resources": 3.0})
    0.0
    >>> b.score_one({"requests": 10.0, "distinct_resources": 300.0}) > 5
    True
    """

    __slots__ = ("_stats", "alpha", "cap", "clip", "features", "n", "prior_requests", "warmup")

    def __init__(
        self,
        alpha: float = 0.05,
        warmup: int = 8,
        *,
        prior_requests: float = 10.0,
        clip: float = 4.0,
        cap: float = 50.0,
        features: Mapping[str, tuple[bool, float]] = DEFAULT_BASELINE_FEATURES,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.prior_requests = prior_requests
        self.clip = clip
        self.cap = cap
        self.features = features
        self.n = 0
        # [mean_0, var_0, mean_1, var_1, ...]; NaN mean = feature never seen.
        self._stats = array("d", [_NAN, 0.0] * len(features))

    def learn_one(self, x: Features) -> None:
        """Fold one window judged normal into the running means and variances."""
        _learn_stats(self._stats, _spec(self.features), x, self.alpha, self.clip)
        self.n += 1

    def score_one(self, x: Features) -> float:
        """Largest positive z-score of ``x`` against this entity's history (0.0 warming up)."""
        if self.n < self.warmup:
            return 0.0
        n = x.get("requests")
        n = None if n is None or not -_HUGE < n < _HUGE else max(n, 0.0)
        prior = self.prior_requests
        weight = 1.0 if n is None or n + prior <= 0.0 else n / (n + prior)
        return _score_stats(self._stats, _spec(self.features), x, weight, self.cap)

    def baselines(self) -> dict[str, float]:
        """Typical value per feature, in the feature's own units (for reasons)."""
        out: dict[str, float] = {}
        for i, (name, (log, _)) in enumerate(self.features.items()):
            mean = self._stats[2 * i]
            if not math.isnan(mean):
                out[name] = math.expm1(mean) if log else mean
        return out

    def to_record(self) -> tuple[Any, ...]:
        """This baseline as a tuple of builtins (see ``EntityState.to_record``)."""
        features = None if self.features is DEFAULT_BASELINE_FEATURES else dict(self.features)
        return (
            self.alpha,
            self.warmup,
            self.prior_requests,
            self.clip,
            self.cap,
            features,
            self.n,
            tuple(self._stats),
        )

    @classmethod
    def from_record(cls, record: tuple[Any, ...]) -> SelfBaseline:
        """Inverse of :meth:`to_record`."""
        alpha, warmup, prior_requests, clip, cap, features, n, stats = record
        baseline = cls(
            alpha=alpha,
            warmup=warmup,
            prior_requests=prior_requests,
            clip=clip,
            cap=cap,
            features=DEFAULT_BASELINE_FEATURES if features is None else features,
        )
        baseline.n = n
        baseline._stats = array("d", stats)
        return baseline

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {s: getattr(self, s) for s in self.__slots__}
        if self.features is DEFAULT_BASELINE_FEATURES:
            state["features"] = None  # not repeated in every account's pickle
        state["state_version"] = STATE_VERSION
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        check_state_version("SelfBaseline state", state)
        if state.get("features") is None:
            state["features"] = DEFAULT_BASELINE_FEATURES
        for key, value in state.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return (
            f"SelfBaseline(alpha={self.alpha}, warmup={self.warmup}, "
            f"prior_requests={self.prior_requests}, clip={self.clip}, cap={self.cap}, n={self.n})"
        )
