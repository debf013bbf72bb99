"""Per-window accumulators and the features computed from them when a window closes.

``AccountWindow`` gathers one entity's requests in one window with a few dict/set
operations per event; ``features()`` turns it into the account feature vector (the names
are the contract with the detectors). ``EndpointWindow`` gathers one endpoint's requests in
one window of one partition and becomes an ``EndpointPartial``, the JSON-able record that
crosses partitions to be combined per endpoint.
"""

from __future__ import annotations

import heapq
import math
from binascii import a2b_base64, b2a_base64
from typing import Any

from datasketches import hll_sketch, hll_union, tgt_hll_type

from detectors.base import Record
from detectors.campaign import WindowSummary

__all__ = [
    "ACCOUNT_FEATURES",
    "ENDPOINT_WINDOW_FEATURES",
    "AccountWindow",
    "EndpointPartial",
    "EndpointWindow",
    "combine_partials",
    "interarrival_cv",
    "sequential_walk",
    "summary_from_dict",
    "summary_to_dict",
]

_nsmallest = heapq.nsmallest

#: Account window feature names (``interarrival_cv`` is absent below 3 requests).
ACCOUNT_FEATURES: tuple[str, ...] = (
    "requests",
    "distinct_endpoints",
    "distinct_resources",
    "new_resource_ratio",
    "sequential_walk",
    "error_ratio",
    "auth_failures",
    "sensitive_share",
    "distinct_sensitive",
    "interarrival_cv",
    "distinct_ips",
)
#: Endpoint window feature names.
ENDPOINT_WINDOW_FEATURES: tuple[str, ...] = (
    "requests",
    "distinct_accounts",
    "distinct_resources",
    "top_share",
)

_AUTH_FAILED = frozenset({401, 403})
_MAX_TIMES = 512
_MAX_AGENTS = 4
_WALK_GAP = 3


def sequential_walk(ids: set[str]) -> float:
    """Share of gaps between sorted distinct numeric ids that are small (1..3).

    >>> sequential_walk({"100", "101", "102", "104"}), sequential_walk({"5", "90000"})
    (1.0, 0.0)
    """
    if len(ids) < 2:
        return 0.0
    # plain loops, no generator: the compiled build makes them C loops (features.pxd)
    nums = []
    for i in ids:
        if i.isdigit():
            nums.append(int(i))
    n = len(nums)
    if n < 2:
        return 0.0
    nums.sort()
    close = 0
    prev = nums[0]
    for k in range(1, n):
        cur = nums[k]
        if cur - prev <= _WALK_GAP:
            close += 1
        prev = cur
    return close / (n - 1)


def interarrival_cv(times: list[float]) -> float | None:
    """Coefficient of variation of the gaps between requests (``None`` below 3 requests).

    >>> interarrival_cv([0.0, 10.0, 20.0, 30.0])
    0.0
    """
    if len(times) < 3:
        return None
    ts = sorted(times)
    n = len(ts) - 1
    # plain loops, no closure, so that Cython compiles them to C arithmetic (features.pxd);
    # the same additions in the same order as sum() over the gaps, so the same floats
    # (each time read once into a float: C doubles, not Python float subtractions)
    total = 0.0
    prev = float(ts[0])
    for i in range(1, n + 1):
        t = float(ts[i])
        total += t - prev
        prev = t
    mean = total / n
    if mean <= 0.0:
        return 0.0
    var = 0.0
    prev = float(ts[0])
    for i in range(1, n + 1):
        t = float(ts[i])
        g = t - prev - mean
        var += g * g
        prev = t
    return math.sqrt(var / n) / mean


_EMPTY_SKETCHES: dict[int, bytes] = {}


def _empty_sketch(lg_k: int) -> bytes:
    """The serialized empty HLL sketch of ``lg_k`` (made once per ``lg_k``)."""
    blob = _EMPTY_SKETCHES.get(lg_k)
    if blob is None:
        blob = _EMPTY_SKETCHES[lg_k] = bytes(
            hll_sketch(lg_k, tgt_hll_type.HLL_4).serialize_compact()
        )
    return blob


class AccountWindow:
    """One entity's requests in one window (a few dict/set operations per event)."""

    __slots__ = (
        "agents",
        "auth_failures",
        "endpoints",
        "entity_type",
        "errors",
        "ips",
        "requests",
        "resources",
        "sensitive_ids",
        "sensitive_requests",
        "times",
    )

    def __init__(self, entity_type: str = "account") -> None:
        self.entity_type = entity_type
        self.requests = 0
        self.endpoints: dict[str, int] = {}
        self.resources: set[str] = set()
        self.sensitive_ids: set[str] = set()
        self.sensitive_requests = 0
        self.errors = 0
        self.auth_failures = 0
        self.times: list[float] = []
        self.ips: set[str] = set()
        self.agents: list[str] = []

    def add(  # noqa: PLR0917  (per event: positional arguments are the cheapest call)
        self,
        ts: float,
        endpoint: str,
        ids: tuple[str, ...],
        sensitive: bool,
        status: int,
        ip: str,
        agent: str | None,
    ) -> None:
        """Fold one request in."""
        self.requests += 1
        eps = self.endpoints
        eps[endpoint] = eps.get(endpoint, 0) + 1
        if ids:
            self.resources.update(ids)
        if sensitive:
            self.sensitive_requests += 1
            if ids:
                self.sensitive_ids.update(ids)
        if status >= 400:
            self.errors += 1
            if status in _AUTH_FAILED:
                self.auth_failures += 1
        if len(self.times) < _MAX_TIMES:
            self.times.append(ts)
        self.ips.add(ip)
        if agent and agent not in self.agents and len(self.agents) < _MAX_AGENTS:
            self.agents.append(agent)

    def snapshot(self) -> AccountWindow:
        """A copy of the window as it is now (the later events do not change it)."""
        snap = AccountWindow(self.entity_type)
        snap.requests = self.requests
        snap.endpoints = dict(self.endpoints)
        snap.resources = set(self.resources)
        snap.sensitive_ids = set(self.sensitive_ids)
        snap.sensitive_requests = self.sensitive_requests
        snap.errors = self.errors
        snap.auth_failures = self.auth_failures
        snap.times = list(self.times)
        snap.ips = set(self.ips)
        snap.agents = list(self.agents)
        return snap

    def features(self, new_resource_ratio: float) -> dict[str, float]:
        """The account feature vector (``new_resource_ratio`` comes from the horizon)."""
        n = self.requests
        out = {
            "requests": float(n),
            "distinct_endpoints": float(len(self.endpoints)),
            "distinct_resources": float(len(self.resources)),
            "new_resource_ratio": new_resource_ratio,
            "sequential_walk": sequential_walk(self.resources),
            "error_ratio": self.errors / n if n else 0.0,
            "auth_failures": float(self.auth_failures),
            "sensitive_share": self.sensitive_requests / n if n else 0.0,
            "distinct_sensitive": float(len(self.sensitive_ids)),
            "distinct_ips": float(len(self.ips)),
        }
        cv = interarrival_cv(self.times)
        if cv is not None:
            out["interarrival_cv"] = cv
        return out


class EndpointWindow:
    """One endpoint's requests in one window of one partition."""

    __slots__ = ("accounts", "requests", "resources")

    def __init__(self) -> None:
        self.requests = 0
        self.accounts: dict[str, int] = {}
        self.resources: set[str] = set()

    def add(self, entity: str, ids: tuple[str, ...]) -> None:
        """Fold one request in."""
        self.requests += 1
        acc = self.accounts
        acc[entity] = acc.get(entity, 0) + 1
        if ids:
            self.resources.update(ids)

    def partial(
        self,
        *,
        endpoint: str,
        start: float,
        end: float,
        source: int,
        top_k: int,
        lg_k: int,
        samples: int = 10,
    ) -> EndpointPartial:
        """This window as a partial record for cross-partition combination."""
        # most requests first, then by name: plain tuples compare in C, no key function;
        # nsmallest is sorted(...)[:top_k] without sorting a busy endpoint's every account
        ranked = [(-c, e) for e, c in self.accounts.items()]
        if len(ranked) <= top_k:  # what nsmallest itself returns then, without its Python
            ranked.sort()
        else:
            ranked = _nsmallest(top_k, ranked)
        top = [(e, -c) for c, e in ranked]
        ids = sorted(self.resources)  # insertion order moves an HLL estimate: keep it fixed
        if ids:
            sketch = hll_sketch(lg_k, tgt_hll_type.HLL_4)
            for rid in ids:
                sketch.update(rid)
            resources = bytes(sketch.serialize_compact())
        else:  # an endpoint without ids (most static pages): the same bytes every time
            resources = _empty_sketch(lg_k)
        return EndpointPartial(
            endpoint=endpoint,
            start=start,
            end=end,
            source=source,
            requests=self.requests,
            distinct_accounts=len(self.accounts),
            top=tuple(top),
            resources=resources,
            sample_ids=tuple(ids[:samples]),
        )


class EndpointPartial(Record):
    """Per-partition counts of one endpoint in one window (crosses Kafka as JSON).

    Accounts are partitioned by key, so ``distinct_accounts`` and the top contributors
    combine exactly across partitions; distinct resources travel as an HLL sketch.
    """

    #: the fields in order: ``__init__``'s, and that of pickles (see ``Record``)
    _fields = (
        "endpoint",
        "start",
        "end",
        "source",
        "requests",
        "distinct_accounts",
        "top",
        "resources",
        "sample_ids",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917  (the fields, in order, as the dataclass it was took them)
        self,
        endpoint: str,
        start: float,
        end: float,
        source: int,
        requests: int,
        distinct_accounts: int,
        top: tuple[tuple[str, int], ...],
        resources: bytes,
        sample_ids: tuple[str, ...] = (),
    ) -> None:
        self.endpoint = endpoint
        self.start = start
        self.end = end
        self.source = source
        self.requests = requests
        self.distinct_accounts = distinct_accounts
        self.top = top
        self.resources = resources
        self.sample_ids = sample_ids

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the sketch base64-encoded)."""
        return {
            "endpoint": self.endpoint,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "requests": self.requests,
            "distinct_accounts": self.distinct_accounts,
            "top": [[e, c] for e, c in self.top],
            "resources": b2a_base64(self.resources, newline=False).decode("ascii"),
            "sample_ids": list(self.sample_ids),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EndpointPartial:
        """Inverse of ``to_dict``."""
        return cls(
            endpoint=str(d["endpoint"]),
            start=float(d["start"]),
            end=float(d["end"]),
            source=int(d["source"]),
            requests=int(d["requests"]),
            distinct_accounts=int(d["distinct_accounts"]),
            top=tuple([(str(e), int(c)) for e, c in d["top"]]),
            resources=a2b_base64(d["resources"]),
            sample_ids=tuple([str(s) for s in d.get("sample_ids", ())]),
        )


def combine_partials(
    parts: list[EndpointPartial], top_k: int, lg_k: int, samples: int = 10
) -> tuple[dict[str, float], tuple[tuple[str, int], ...], tuple[str, ...]]:
    """Endpoint features, top contributors and sample ids of one endpoint window.

    The result does not depend on the order of ``parts``: the HLL union's estimate can
    (its mode changes with what it has seen), so sketches join it by source partition,
    the order a replay adds them in, and a worker, which gets them as they come, agrees.
    """
    parts = sorted(parts, key=lambda p: p.source)
    requests = sum([p.requests for p in parts])
    accounts = sum([p.distinct_accounts for p in parts])
    top = tuple(sorted([kv for p in parts for kv in p.top], key=lambda kv: (-kv[1], kv[0]))[:top_k])
    union = hll_union(lg_k)
    for p in parts:
        union.update(hll_sketch.deserialize(p.resources))
    features = {
        "requests": float(requests),
        "distinct_accounts": float(accounts),
        "distinct_resources": float(round(union.get_estimate())),
        "top_share": top[0][1] / requests if top and requests else 0.0,
    }
    ids = tuple(sorted({i for p in parts for i in p.sample_ids})[:samples])
    return features, top, ids


def summary_to_dict(s: WindowSummary) -> dict[str, Any]:
    """JSON-able form of a campaign summary (crosses Kafka with the partials)."""
    return {
        "entity": s.entity,
        "entity_type": s.entity_type,
        "start": s.start,
        "end": s.end,
        "route": s.route,
        "requests": s.requests,
        "distinct_sensitive": s.distinct_sensitive,
        "sequential_walk": s.sequential_walk,
        "interarrival_cv": s.interarrival_cv,
        "ip_prefixes": list(s.ip_prefixes),
        "user_agent": s.user_agent,
        "score": s.score,
    }


def summary_from_dict(d: dict[str, Any]) -> WindowSummary:
    """Inverse of ``summary_to_dict``."""
    cv = d.get("interarrival_cv")
    return WindowSummary(
        entity=str(d["entity"]),
        entity_type=str(d["entity_type"]),
        start=float(d["start"]),
        end=float(d["end"]),
        route=str(d["route"]),
        requests=float(d["requests"]),
        distinct_sensitive=float(d["distinct_sensitive"]),
        sequential_walk=float(d["sequential_walk"]),
        interarrival_cv=None if cv is None else float(cv),
        ip_prefixes=tuple([str(p) for p in d["ip_prefixes"]]),
        user_agent=None if d.get("user_agent") is None else str(d["user_agent"]),
        score=float(d.get("score", 0.0)),
    )
