"""Long-horizon enumeration: distinct sensitive resources over hours against the population.

Catches the crawler that stays slow: about one request every 10 s, each a new user id, is
~360 distinct profiles an hour while people touch a handful. One shared instance per worker;
the engine supplies the 1 h / 24 h distinct counts from its HLL sketches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from detectors.base import Features
from detectors.population import MAX_VALUE, PopulationModel

_MAX = MAX_VALUE  # a C double in the compiled build

__all__ = ["DEFAULT_ENUMERATION_FLOORS", "DEFAULT_ENUMERATION_WEIGHTS", "EnumerationDetector"]

#: Smallest population p99 used per long-horizon quantity.
DEFAULT_ENUMERATION_FLOORS: Mapping[str, float] = {
    "distinct_sensitive_1h": 20.0,
    "distinct_sensitive_24h": 60.0,
    "distinct_resources_1h": 200.0,
    "sensitive_requests_1h": 60.0,
}

#: Distinct sensitive resources are the signal; volume and all-route coverage only help
#: (heavy shoppers browse many products and reload their own pages).
DEFAULT_ENUMERATION_WEIGHTS: Mapping[str, float] = {
    "distinct_sensitive_1h": 1.0,
    "distinct_sensitive_24h": 1.0,
    "distinct_resources_1h": 0.3,
    "sensitive_requests_1h": 0.3,
}


class EnumerationDetector(PopulationModel):
    """Doublings of an account's 1 h / 24 h coverage above the population's p99.

    Same scoring as ``PopulationModel`` (largest weighted excess in doublings over the
    floored quantile, plus ``second_weight`` times the second), on long-horizon features.

    Parameters
    ----------
    quantile
        The population quantile compared against.
    warmup
        Account windows learned before scoring.
    second_weight
        Weight of the second-largest excess.
    floors
        Smallest quantile value per quantity (see ``DEFAULT_ENUMERATION_FLOORS``).
    weights
        Multiplier per quantity (see ``DEFAULT_ENUMERATION_WEIGHTS``).
    sample_by, seed
        Learn a window with probability ``1 / active_windows_1h`` (seeded), so each account
        counts about once an hour however busy it is: a farm of always-on accounts does
        not drag the population quantile up to its own level.

    Examples
    --------
    >>> d = EnumerationDetector(warmup=50)
    >>> for i in range(300):
    ...     d.learn_one({"distinct_sensitive_1h": float(i % 5), "distinct_sensitive_24h": 9.0})
    >>> d.score_one({"distinct_sensitive_1h": 4.0, "distinct_sensitive_24h": 9.0})
    0.0
    >>> d.score_one({"distinct_sensitive_1h": 360.0, "distinct_sensitive_24h": 360.0}) > 3
    True
    """

    def __init__(
        self,
        quantile: float = 0.99,
        warmup: int = 200,
        *,
        second_weight: float = 0.5,
        floors: Mapping[str, float] = DEFAULT_ENUMERATION_FLOORS,
        weights: Mapping[str, float] | None = DEFAULT_ENUMERATION_WEIGHTS,
        sample_by: str | None = "active_windows_1h",
        seed: int = 0,
    ) -> None:
        super().__init__(
            quantile=quantile,
            warmup=warmup,
            second_weight=second_weight,
            floors=floors,
            weights=weights,
            sample_by=sample_by,
            seed=seed,
        )

    def derive(self, x: Features) -> dict[str, float]:
        """The long-horizon features, finite and non-negative, as they come."""
        return _finite_clamped(self.floors, x)


def _finite_clamped(names: Iterable[str], x: Features) -> dict[str, float]:
    """``names``' values in ``x`` as floats, the finite ones only, clamped to [0, MAX_VALUE]
    (without the two calls of ``min(max(v, 0.0), MAX_VALUE)``: hot path, C doubles in the
    compiled build; ``v - v == 0.0`` is false for an infinity and for NaN)."""
    get = x.get
    out: dict[str, float] = {}
    for name in names:
        raw = get(name)
        if raw is not None:
            v = float(raw)
            if v - v == 0.0:
                out[name] = (v if v <= _MAX else _MAX) if v >= 0.0 else 0.0
    return out
