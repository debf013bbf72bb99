"""Long horizons per entity (1 h, 24 h) as rings of HLL sketches, updated per window close.

Each horizon is split into buckets (15 min for the hour, 3 h for the day); a bucket holds
compact-serialised Apache DataSketches HLL sketches of the resource ids seen in it, and the
horizon's distinct count is the union of its live buckets. The union covers between
``horizon - bucket`` and ``horizon`` of history, which is what a detector of slow
enumeration needs. Sketches stay serialised between closes (tens of bytes for a quiet
account) and are only opened when the entity was active in the closing window.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from datasketches import hll_sketch, hll_union, tgt_hll_type

__all__ = ["DAY_BUCKET", "HORIZON_FEATURES", "HOUR_BUCKET", "Horizon"]

HOUR_BUCKET = 900.0
DAY_BUCKET = 3 * 3600.0
_HOUR_BUCKETS = 4
_DAY_BUCKETS = 8
_TYPE = tgt_hll_type.HLL_4

#: Long-horizon feature names (the contract with ``detectors.enumeration``).
HORIZON_FEATURES: tuple[str, ...] = (
    "distinct_sensitive_1h",
    "distinct_sensitive_24h",
    "distinct_resources_1h",
    "sensitive_requests_1h",
    "active_windows_1h",
)


_deserialize = hll_sketch.deserialize


def _add(blob: bytes | None, items: Collection[str], lg_k: int) -> bytes | None:
    if not items:
        return blob
    sk = hll_sketch(lg_k, _TYPE) if blob is None else _deserialize(blob)
    # sorted: an HLL estimate (HIP) depends on insertion order, and set order on the
    # process's string hash seed; sorting keeps a replay's alerts the same in every process
    for item in sorted(items):
        sk.update(item)
    return bytes(sk.serialize_compact())


def _distinct(blobs: list[bytes | None], lg_k: int) -> float:
    sketches = []
    for b in blobs:
        if b is not None:
            sketches.append(_deserialize(b))
    return _estimate(sketches, lg_k)


def _estimate(sketches: list[hll_sketch], lg_k: int) -> float:
    """Distinct count of the union of ``sketches`` (a lone sketch's own estimate)."""
    if not sketches:
        return 0.0
    if len(sketches) == 1:
        return float(round(sketches[0].get_estimate()))
    union = hll_union(lg_k)
    for sk in sketches:
        union.update(sk)
    return float(round(union.get_estimate()))


class Horizon:
    """One entity's 1 h and 24 h history: distinct resources, sensitive coverage, activity.

    ``update`` is called once per closed window in which the entity was active, with the
    window's distinct ids; it returns the long-horizon features (including that window)
    and the share of the window's resources that the past hour had not seen.

    Examples
    --------
    >>> h = Horizon()
    >>> feats, new = h.update(0.0, {"1", "2"}, {"1", "2"}, 2)
    >>> feats["distinct_sensitive_1h"], new
    (2.0, 1.0)
    >>> feats, new = h.update(60.0, {"2", "3"}, {"2", "3"}, 2)
    >>> feats["distinct_sensitive_1h"], feats["active_windows_1h"], new
    (3.0, 2.0, 0.5)
    """

    __slots__ = ("day", "hour", "lg_k")

    def __init__(self, lg_k: int = 8) -> None:
        self.lg_k = lg_k
        # hour ring: [bucket, sensitive sketch, resource sketch, sensitive requests, windows]
        # (kept as tuples: a list's spare capacity is bytes a million accounts pay for)
        self.hour: Sequence[tuple[int, bytes | None, bytes | None, int, int]] = ()
        # day ring: [bucket, sensitive sketch]; the shared empty tuple while there is none
        # (most accounts never view a sensitive route: ~70 bytes each at a million)
        self.day: Sequence[tuple[int, bytes | None]] = ()

    @property
    def last_seen(self) -> float:
        """Start of the 15-minute bucket of the entity's latest window (for expiry)."""
        return self.hour[-1][0] * HOUR_BUCKET if self.hour else float("-inf")

    def update(  # noqa: PLR0912, PLR0915  (flat for speed: once per entity per window)
        self,
        window_start: float,
        resources: Collection[str],
        sensitive: Collection[str],
        sensitive_requests: int,
    ) -> tuple[dict[str, float], float]:
        """Fold one window in; return ``(features, new_resource_ratio)``."""
        # plain loops, no generator or comprehension: the compiled build (horizon.pxd)
        # turns them into C loops over the rings' tuples
        lg_k = self.lg_k
        hb = int(window_start // HOUR_BUCKET)
        cutoff = hb - _HOUR_BUCKETS
        hour: list[tuple[int, bytes | None, bytes | None, int, int]] = []
        for b in self.hour:
            if b[0] > cutoff:
                hour.append(b)
        current = hour.pop() if hour and hour[-1][0] == hb else None
        if resources:
            # each resource sketch is opened once: for the count before this window, then
            # (the current bucket's, updated in place) for the count after it
            older = []
            for b in hour:
                if b[2] is not None:
                    older.append(_deserialize(b[2]))
            res_sk = None
            if current is not None and current[2] is not None:
                res_sk = _deserialize(current[2])
                older.append(res_sk)
            # one union serves both counts: the current bucket only grows, so adding its
            # updated sketch to the union of before gives the union of after
            union = None
            if len(older) > 1:
                union = hll_union(lg_k)
                for sk in older:
                    union.update(sk)
                before = float(round(union.get_estimate()))
            else:
                before = float(round(older[0].get_estimate())) if older else 0.0
            if res_sk is None:
                res_sk = hll_sketch(lg_k, _TYPE)
                older.append(res_sk)
            update = res_sk.update
            for item in sorted(resources):  # sorted: see _add
                update(item)
            res_blob: bytes | None = bytes(res_sk.serialize_compact())
            if union is not None:
                union.update(res_sk)
                resources_1h = float(round(union.get_estimate()))
            else:
                resources_1h = _estimate(older, lg_k)
            new = min(max((resources_1h - before) / len(resources), 0.0), 1.0)
        else:
            res_blob = None if current is None else current[2]
            blobs = []
            for b in hour:
                blobs.append(b[2])
            blobs.append(res_blob)
            resources_1h = _distinct(blobs, lg_k)
            new = 0.0
        if current is None:
            sens_blob = _add(None, sensitive, lg_k)
            hour.append((hb, sens_blob, res_blob, sensitive_requests, 1))
        else:
            sens_blob = _add(current[1], sensitive, lg_k)
            hour.append((hb, sens_blob, res_blob, current[3] + sensitive_requests, current[4] + 1))
        self.hour = tuple(hour)
        db = int(window_start // DAY_BUCKET)
        day_cutoff = db - _DAY_BUCKETS
        day: list[tuple[int, bytes | None]] = []
        any_sensitive = False
        for d in self.day:
            if d[0] > day_cutoff:
                day.append(d)
        same_day = bool(day) and day[-1][0] == db
        blob = _add(day[-1][1] if same_day else None, sensitive, lg_k)
        if blob is not None and blob == sens_blob:
            blob = sens_blob  # same sketch in both rings: keep one copy
        if same_day:
            day[-1] = (db, blob)
        elif blob is not None:  # a bucket with no sensitive id would count nothing
            day.append((db, blob))
        self.day = tuple(day)
        sreq_1h = 0
        active_1h = 0
        for b in hour:
            sreq_1h += b[3]
            active_1h += b[4]
        for d in day:
            if d[1]:
                any_sensitive = True
                break
        if not any_sensitive:  # the day ring holds every sensitive id of the hour
            # no sensitive id in the last day (most accounts): nothing to open
            sens_1h = sens_24h = 0.0
        else:
            blobs = []
            for b in hour:
                blobs.append(b[1])
            sens_1h = _distinct(blobs, lg_k)
            blobs = []
            for d in day:
                blobs.append(d[1])
            sens_24h = _distinct(blobs, lg_k)
        features = {
            "distinct_sensitive_1h": sens_1h,
            "distinct_sensitive_24h": sens_24h,
            "distinct_resources_1h": resources_1h,
            "sensitive_requests_1h": float(sreq_1h),
            "active_windows_1h": float(active_1h),
        }
        return features, new

    def __reduce__(self) -> tuple[Any, ...]:
        # one format for both builds (a C class has no __slots__ to pickle); what earlier
        # releases wrote (the state dict below) still loads through __setstate__
        return (_restore, (self.lg_k, self.hour, self.day))

    def __getstate__(self) -> dict[str, Any]:
        return {"lg_k": self.lg_k, "hour": self.hour, "day": self.day}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lg_k = state["lg_k"]
        self.hour = state["hour"]
        self.day = state["day"]

    def __repr__(self) -> str:
        return f"Horizon(lg_k={self.lg_k}, hour={len(self.hour)}, day={len(self.day)})"


def _restore(lg_k: int, hour: Any, day: Any) -> Horizon:
    h = Horizon(lg_k)
    h.hour, h.day = hour, day
    return h
