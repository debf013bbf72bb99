"""Population model: one account's window against all accounts' windows.

A brand-new account is judged from its first window. One shared instance per worker holds
streaming quantiles (``river.stats.Quantile``) of a few enumeration-like quantities; the
score is how many doublings a window sits above the population's p99, so "412 distinct
profiles when p99 is 9" scores about 5.4 and a window at p99 scores 0.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from river import stats

from detectors.base import Features, VersionedState

__all__ = ["DEFAULT_POPULATION_FLOORS", "MAX_VALUE", "PopulationModel", "derived_features"]

#: Derived values are clamped to [0, MAX_VALUE] so garbage input cannot overflow a quantile.
MAX_VALUE = 1e12
_MAX = MAX_VALUE  # the same, a C double in the compiled build

#: Derived quantity -> smallest p99 used when scoring (a population where 99% of windows
#: touch no profile must not make 3 profile views an anomaly).
DEFAULT_POPULATION_FLOORS: Mapping[str, float] = {
    "distinct_sensitive": 5.0,
    "sensitive_requests": 10.0,
    "walked_resources": 5.0,
    "auth_failures": 3.0,
    "machine_resources": 20.0,
    "machine_requests": 30.0,
}


def derived_features(x: Features) -> dict[str, float]:  # noqa: PLR0912, PLR0915  (flat: hot path)
    """The quantities the population is compared on, from one account window.

    Plain volume never counts by itself: ``distinct_resources`` and ``requests`` only count
    in proportion to how machine-like the window is (sequential walk, regular timing), so a
    busy human with irregular clicks and few sensitive resources stays low.

    >>> derived_features({"requests": 60.0, "sensitive_share": 0.5, "sequential_walk": 1.0})
    {'sensitive_requests': 30.0, 'walked_resources': 0.0, 'machine_requests': 60.0}
    """
    # flat for speed (once per account window): each value read as a float (C doubles in
    # the compiled build, population.pxd), checked finite (``v - v == 0.0``: false for an
    # infinity and for NaN) and clamped to [0, MAX_VALUE] as it is made
    get = x.get
    raw = get("requests")
    has_requests = raw is not None
    requests = float(raw) if raw is not None else 0.0
    raw = get("sequential_walk")
    has_walk = False
    walk = 0.0
    if raw is not None:
        walk = float(raw)
        if walk - walk == 0.0:
            has_walk = True
            if not 0.0 <= walk <= 1.0:
                walk = 0.0 if walk < 0.0 else 1.0
        else:
            walk = 0.0
    raw = get("interarrival_cv")
    has_cv = raw is not None
    regular = 0.0
    if raw is not None:
        cv = float(raw)
        if cv - cv == 0.0:
            regular = 1.0 - cv
            regular = regular if 0.0 <= regular <= 1.0 else 0.0 if regular < 0.0 else 1.0
    # max(walk or 0.0, regular): the first unless the second is larger
    machine = walk if has_walk and walk != 0.0 else 0.0
    if regular > machine:  # noqa: PLR1730  (a C comparison; max() is a call)
        machine = regular
    out: dict[str, float] = {}
    raw = get("distinct_sensitive")
    if raw is not None:
        v = float(raw)
        if v - v == 0.0:
            out["distinct_sensitive"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    raw = get("sensitive_share")
    if has_requests and raw is not None:
        share = float(raw)
        if share - share == 0.0:
            share = share if 0.0 <= share <= 1.0 else 0.0 if share < 0.0 else 1.0
            v = requests * share
            if v - v == 0.0:
                out["sensitive_requests"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    raw = get("distinct_resources")
    has_resources = raw is not None
    resources = float(raw) if raw is not None else 0.0
    if has_walk:
        v = (resources if resources != 0.0 else 0.0) * walk  # (resources or 0.0) * walk
        if v - v == 0.0:
            out["walked_resources"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    raw = get("auth_failures")
    if raw is not None:
        v = float(raw)
        if v - v == 0.0:
            out["auth_failures"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    if has_resources:
        v = resources * machine
        if v - v == 0.0:
            out["machine_resources"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    if has_requests and (has_walk or has_cv):
        v = requests * machine
        if v - v == 0.0:
            out["machine_requests"] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    return out


def _exceeds(refs: dict[str, float], derived: dict[str, float]) -> bool:
    """Whether any derived quantity is above its reference (most windows: none is)."""
    for name, value in derived.items():
        ref = refs.get(name)
        if ref is not None:
            r = ref
            if value > r:
                return True
    return False


def _excesses(
    refs: dict[str, float], weights: dict[str, float], derived: dict[str, float]
) -> dict[str, float]:
    """Weighted doublings above the reference, per quantity that exceeds it."""
    out: dict[str, float] = {}
    for name, value in derived.items():
        ref = refs.get(name)
        if ref is not None:
            r = ref
            if value > r:
                w = weights.get(name, 1.0)
                excess = w * math.log2((1.0 + value) / (1.0 + r))
                if excess > 0.0:
                    out[name] = excess
    return out


def _references(model: PopulationModel) -> dict[str, float]:
    """``model``'s floored quantiles, refreshed every ``_REFRESH`` learned windows (a plain
    function: the compiled build calls it in C, where a method call costs a lookup)."""
    state = model.__dict__
    refs: dict[str, float] | None = state.get("_refs")
    n = model.n
    if refs is None or n - state.get("_refs_at", 0) >= _REFRESH:
        refs = model.baselines()
        state["_refs"], state["_refs_at"] = refs, n
    return refs


def _learn(updaters: dict[str, Any], derived: dict[str, float], model: PopulationModel) -> None:
    """Feed each tracked derived quantity to its two estimators (see ``_bind``)."""
    for name, value in derived.items():
        pair = updaters.get(name)
        if pair is None:
            pair = model._bind(name)
            if pair is None:  # not a tracked quantity
                continue
        pair[0](value)
        pair[1](value)


#: Learned windows between refreshes of the cached references (quantiles move slowly).
_REFRESH = 16


class PopulationModel(VersionedState):
    """Streaming p50/p99 per derived quantity; score = doublings above p99 (0 below).

    The score is the largest excess plus ``second_weight`` times the second largest: a
    crawler exceeds on several quantities at once (profiles, sensitive volume, walk), an
    odd human on one.

    Parameters
    ----------
    quantile
        The population quantile a window is compared against.
    warmup
        Windows learned before scoring.
    second_weight
        Weight of the second-largest excess.
    floors
        Smallest quantile value used per quantity (see ``DEFAULT_POPULATION_FLOORS``);
        its keys are the quantities the model tracks.
    weights
        Multiplier of each quantity's excess (default 1.0 each).
    sample_by
        Optional feature ``k`` (e.g. ``active_windows_1h``): a window is learned with
        probability ``1 / k``, so the quantiles weigh accounts, not windows, and an
        always-on crawler or farm does not become "the population".
    seed
        Seed of that sampling.

    Examples
    --------
    >>> m = PopulationModel(warmup=50)
    >>> for i in range(200):
    ...     m.learn_one({"requests": 5.0 + i % 7, "distinct_sensitive": float(i % 3),
    ...                  "sensitive_share": 0.1, "sequential_walk": 0.0})
    >>> m.score_one({"requests": 6.0, "distinct_sensitive": 1.0, "sensitive_share": 0.1})
    0.0
    >>> m.score_one({"requests": 412.0, "distinct_sensitive": 412.0,
    ...              "sensitive_share": 1.0, "sequential_walk": 1.0}) > 5
    True
    """

    _TRANSIENT = ("_updaters",)
    #: quantity -> the bound updates of its p99 and median estimators (see ``_bind``)
    _updaters: dict[str, tuple[Callable[[float], None], Callable[[float], None]]]

    def __init__(
        self,
        quantile: float = 0.99,
        warmup: int = 200,
        *,
        second_weight: float = 0.5,
        floors: Mapping[str, float] = DEFAULT_POPULATION_FLOORS,
        weights: Mapping[str, float] | None = None,
        sample_by: str | None = None,
        seed: int = 0,
    ) -> None:
        self.quantile = quantile
        self.warmup = warmup
        self.second_weight = second_weight
        self.floors = dict(floors)
        self.weights = dict(weights or {})
        self.sample_by = sample_by
        self.seed = seed
        self._rng = random.Random(seed)
        self.n = 0
        self._high = {name: stats.Quantile(quantile) for name in self.floors}
        self._median = {name: stats.Quantile(0.5) for name in self.floors}

    def derive(self, x: Features) -> dict[str, float]:
        """The quantities compared with the population (subclasses change this)."""
        return derived_features(x)

    def learn_one(self, x: Features) -> None:
        """Add one account window judged normal to the population."""
        self.learn_derived(self.derive(x), x)

    def learn_derived(self, derived: Mapping[str, float], x: Features) -> None:
        """``learn_one`` with ``derive(x)`` already computed (the stage derives once)."""
        if self.sample_by is not None:
            k = x.get(self.sample_by)
            if k is not None and math.isfinite(k) and k > 1.0 and self._rng.random() * k >= 1.0:
                return
        try:
            updaters = self._updaters
        except AttributeError:
            updaters = self._updaters = {}  # after unpickling: bound again on first use
        _learn(updaters, derived if type(derived) is dict else dict(derived), self)
        self.n += 1

    def _bind(self, name: str) -> tuple[Callable[[float], None], Callable[[float], None]] | None:
        """The updates of river's Rust estimators of ``name`` themselves (what
        ``Quantile.update`` does, minus the wrapper), bound once: called before the
        quantity's first update, whose flags it sets as river does."""
        q = self._high.get(name)
        if q is None:
            return None
        m = self._median[name]
        q._is_updated = m._is_updated = True
        pair = (q._quantile.update, m._quantile.update)
        self._updaters[name] = pair
        return pair

    def excesses(self, x: Features) -> dict[str, float]:
        """Doublings above the population quantile, per derived quantity that exceeds it."""
        return self.excesses_derived(self.derive(x))

    def excesses_derived(self, derived: Mapping[str, float]) -> dict[str, float]:
        """``excesses`` of an already derived window."""
        out: dict[str, float] = {}
        if self.n < self.warmup:
            return out
        return _excesses(
            _references(self), self.weights, derived if type(derived) is dict else dict(derived)
        )

    def _references(self) -> dict[str, float]:
        """Floored quantiles, refreshed every ``_REFRESH`` learned windows (hot path)."""
        return _references(self)

    def score_one(self, x: Features) -> float:
        """Largest excess over the population p99 plus a share of the second largest."""
        return self.score_derived(self.derive(x))

    def score_derived(self, derived: Mapping[str, float]) -> float:
        """``score_one`` of an already derived window (0.0 at once when nothing exceeds)."""
        if self.n < self.warmup:
            return 0.0
        if type(derived) is not dict:
            derived = dict(derived)
        refs = _references(self)
        if not _exceeds(refs, derived):
            return 0.0  # the common case: every quantity at or below its reference
        top = sorted(_excesses(refs, self.weights, derived).values(), reverse=True)
        if not top:
            return 0.0
        second = top[1] if len(top) > 1 else 0.0
        return top[0] + self.second_weight * second

    def baselines(self) -> dict[str, float]:
        """Population quantile (e.g. p99) per derived quantity, floored as when scoring."""
        out: dict[str, float] = {}
        for name, high in self._high.items():
            value = high.get()
            out[name] = max(value if value is not None else 0.0, self.floors[name])
        return out

    def medians(self) -> dict[str, float]:
        """Population median per derived quantity (for reasons that say what is typical)."""
        return {name: q.get() or 0.0 for name, q in self._median.items()}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(quantile={self.quantile}, warmup={self.warmup}, "
            f"second_weight={self.second_weight}, sample_by={self.sample_by!r}, "
            f"seed={self.seed}, n={self.n})"
        )
