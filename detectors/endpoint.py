"""Endpoint forecast: each endpoint's window against its own recent level.

One ``EndpointForecast`` per endpoint (a few floats in ``__slots__``). The engine combines
the per-worker partial counts, calls ``score_one`` then (if not flagged) ``learn_one`` once
per endpoint per window, and names the top contributors itself.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from detectors.base import STATE_VERSION, Features, check_state_version

__all__ = ["ENDPOINT_FEATURES", "EndpointForecast"]

#: What is forecast per endpoint and window.
ENDPOINT_FEATURES: tuple[str, ...] = ("requests", "distinct_accounts", "distinct_resources")

_NAN = float("nan")
#: Counts above this are clamped when learning (no real window is that large; keeps the
#: variance finite on garbage input).
_MAX_COUNT = 1e12


class EndpointForecast:
    """EWMA level and variance per count; score = largest standardised positive residual.

    The standard deviation is floored by the Poisson noise of the level
    (``sqrt(level)``), by ``rel_floor * level`` and by ``min_std``, so a quiet endpoint's
    first busy minute is large but finite and a busy endpoint's usual jitter scores low.

    Parameters
    ----------
    alpha
        EWMA weight of the newest window (0.1 ~ a memory of 10 windows).
    warmup
        Windows to learn before scoring.
    rel_floor
        Relative floor of the standard deviation (0.1 = 10% of the level).
    min_std
        Absolute floor of the standard deviation.
    clip
        Winsorising bound, in standard deviations, applied when learning (a surge that was
        not flagged moves the forecast only so far per window).
    cap
        Largest score returned.

    Examples
    --------
    >>> f = EndpointForecast(warmup=3)
    >>> for _ in range(10):
    ...     f.learn_one({"requests": 100.0, "distinct_accounts": 20.0, "distinct_resources": 50.0})
    >>> f.score_one({"requests": 105.0, "distinct_accounts": 20.0, "distinct_resources": 52.0})
    0.5
    >>> f.score_one({"requests": 110.0, "distinct_accounts": 2.0, "distinct_resources": 900.0}) > 50
    True
    """

    __slots__ = ("_stats", "alpha", "cap", "clip", "min_std", "n", "rel_floor", "warmup")

    def __init__(
        self,
        alpha: float = 0.1,
        warmup: int = 10,
        *,
        rel_floor: float = 0.1,
        min_std: float = 1.0,
        clip: float = 6.0,
        cap: float = 1000.0,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.rel_floor = rel_floor
        self.min_std = min_std
        self.clip = clip
        self.cap = cap
        self.n = 0
        # [level_0, var_0, level_1, var_1, ...]; NaN level = never seen.
        self._stats = array("d", [_NAN, 0.0] * len(ENDPOINT_FEATURES))

    def _std(self, i: int) -> float:
        level = max(self._stats[2 * i], 0.0)
        return max(
            math.sqrt(self._stats[2 * i + 1]),
            math.sqrt(level),
            self.rel_floor * level,
            self.min_std,
        )

    def learn_one(self, x: Features, weight: float = 1.0) -> None:
        """Fold one window into the endpoint's levels and variances.

        ``weight`` (0..1) scales the EWMA step: pass a small weight for flagged windows so
        a lasting, legitimate level shift is eventually absorbed instead of alerting
        forever, while one surge barely moves the forecast.
        """
        stats = self._stats
        alpha = self.alpha * min(max(weight, 0.0), 1.0)
        for i, name in enumerate(ENDPOINT_FEATURES):
            v = x.get(name)
            if v is None or not math.isfinite(v):
                continue
            v = min(max(v, 0.0), _MAX_COUNT)
            level = stats[2 * i]
            if math.isnan(level):
                stats[2 * i] = v
                continue
            bound = self.clip * self._std(i)
            d = min(max(v - level, -bound), bound)
            stats[2 * i] = level + alpha * d
            stats[2 * i + 1] = (1.0 - alpha) * (stats[2 * i + 1] + alpha * d * d)
        self.n += 1

    def score_one(self, x: Features) -> float:
        """Largest positive residual in standard deviations (0.0 while warming up)."""
        if self.n < self.warmup:
            return 0.0
        best = 0.0
        for i, name in enumerate(ENDPOINT_FEATURES):
            v = x.get(name)
            level = self._stats[2 * i]
            if v is None or not math.isfinite(v) or math.isnan(level):
                continue
            best = max(best, (v - level) / self._std(i))
        return min(best, self.cap)

    def baselines(self) -> dict[str, float]:
        """Forecast (current level) per count."""
        return {
            name: self._stats[2 * i]
            for i, name in enumerate(ENDPOINT_FEATURES)
            if not math.isnan(self._stats[2 * i])
        }

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {s: getattr(self, s) for s in self.__slots__}
        state["state_version"] = STATE_VERSION
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        check_state_version("EndpointForecast state", state)
        for key, value in state.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return (
            f"EndpointForecast(alpha={self.alpha}, warmup={self.warmup}, "
            f"rel_floor={self.rel_floor}, min_std={self.min_std}, clip={self.clip}, "
            f"cap={self.cap}, n={self.n})"
        )
