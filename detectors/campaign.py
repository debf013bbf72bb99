"""Campaign correlation: accounts that walk the same sensitive route alike become one alert.

A farm of accounts on rotating IPs, each reading a few profiles a minute, stays below every
per-account threshold. Together they share a sensitive route, a similar rate and machine
regularity, and an IP prefix or a user agent. The engine sends one ``WindowSummary`` per
account window; ``CampaignCorrelator.add`` returns the campaigns that appeared or grew.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from detectors.base import STATE_VERSION

__all__ = ["Campaign", "CampaignCorrelator", "WindowSummary", "ip_prefix"]

_Key = tuple[str, str, str]  # (route, attribute kind, attribute value)


def ip_prefix(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of an address; the input itself if unparsable.

    >>> ip_prefix("203.0.113.77"), ip_prefix("2001:db8:1:2::5")
    ('203.0.113.0/24', '2001:db8:1::/48')
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """What the correlator needs from one account window (built by the engine).

    ``route`` is the account's top sensitive route in the window (or its top route);
    ``interarrival_cv`` is ``None`` when the window had fewer than 3 requests; ``score``
    is the account's own best detector score for the window (evidence only).
    """

    entity: str
    entity_type: str
    start: float
    end: float
    route: str
    requests: float
    distinct_sensitive: float
    sequential_walk: float
    interarrival_cv: float | None
    ip_prefixes: tuple[str, ...]
    user_agent: str | None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Campaign:
    """One campaign report: all members so far and those new since the last report."""

    campaign_id: str
    route: str
    shared: tuple[str, ...]
    first_window_start: float
    window: tuple[float, float]
    members: tuple[str, ...]
    new_members: tuple[str, ...]
    score: float


@dataclass
class _Active:
    campaign_id: str
    route: str
    first_start: float
    last_seen: float
    keys: set[_Key] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    score: float = 0.0


class CampaignCorrelator:
    """Groups machine-like sensitive-route windows by route and shared IP prefix or agent.

    A window is *eligible* when it touched at least ``min_distinct_sensitive`` sensitive
    resources and looks machine-made: sequential walk of at least ``min_walk``, or
    inter-arrival CV at most ``max_cv``, or own score at least ``min_score``. Eligible
    windows within ``span`` seconds of event time that share (route, IP prefix) or (route,
    user agent) and whose request rates lie within a factor ``rate_ratio`` of the group's
    median form a group; a group of ``min_members`` accounts is a campaign. Groups that
    overlap an active campaign on the same route by half their members join it, so a farm
    rotating over three /24s is one campaign.

    Parameters
    ----------
    span
        Correlation span in event-time seconds; older summaries expire.
    min_members
        Accounts needed for a campaign.
    min_distinct_sensitive, min_walk, max_cv, min_score
        Eligibility (see above).
    rate_ratio
        Largest factor between a member's requests and the group median.
    max_summaries
        Hard bound on summaries kept (oldest dropped first).

    Examples
    --------
    >>> c = CampaignCorrelator(min_members=3)
    >>> reports = [c.add(WindowSummary(f"bot{i}", "account", 0.0, 60.0, "GET /users/{id}",
    ...                                3.0, 3.0, 1.0, None, ("198.51.100.0/24",), "x"))
    ...            for i in range(4)]
    >>> [len(r) for r in reports], reports[2][0].members
    ([0, 0, 1, 1], ('bot0', 'bot1', 'bot2'))
    >>> reports[3][0].new_members
    ('bot3',)
    """

    def __init__(
        self,
        span: float = 1800.0,
        min_members: int = 5,
        *,
        min_distinct_sensitive: float = 1.0,
        min_walk: float = 0.5,
        max_cv: float = 0.5,
        min_score: float = math.inf,
        rate_ratio: float = 3.0,
        max_summaries: int = 200_000,
    ) -> None:
        self.span = span
        self.min_members = min_members
        self.min_distinct_sensitive = min_distinct_sensitive
        self.min_walk = min_walk
        self.max_cv = max_cv
        self.min_score = min_score
        self.rate_ratio = rate_ratio
        self.max_summaries = max_summaries
        self.watermark = -math.inf
        self._queue: deque[WindowSummary] = deque()
        self._groups: dict[_Key, dict[str, WindowSummary]] = {}
        self._active: dict[str, _Active] = {}
        self._key_to_campaign: dict[_Key, str] = {}

    def eligible(self, s: WindowSummary) -> bool:
        """Whether a window is machine-like activity on a sensitive route."""
        if s.distinct_sensitive < self.min_distinct_sensitive:
            return False
        regular = s.interarrival_cv is not None and s.interarrival_cv <= self.max_cv
        return s.sequential_walk >= self.min_walk or regular or s.score >= self.min_score

    def add(self, s: WindowSummary) -> list[Campaign]:
        """Take one account window; return campaigns that are new or gained members."""
        self.watermark = max(self.watermark, s.end)
        self._expire()
        if not self.eligible(s):
            return []
        self._queue.append(s)
        keys = [(s.route, "ip_prefix", p) for p in sorted(set(s.ip_prefixes))]
        if s.user_agent:
            keys.append((s.route, "user_agent", s.user_agent))
        reports: dict[str, Campaign] = {}
        for key in keys:
            self._groups.setdefault(key, {})[s.entity] = s
            report = self._evaluate(key)
            if report is not None:
                reports[report.campaign_id] = report
        return sorted(reports.values(), key=lambda c: c.campaign_id)

    def __len__(self) -> int:
        """Summaries currently kept."""
        return len(self._queue)

    def _similar(self, group: dict[str, WindowSummary]) -> list[WindowSummary]:
        rates = [math.log(max(m.requests, 1.0)) for m in group.values()]
        mid, tol = median(rates), math.log(self.rate_ratio)
        return [m for m, r in zip(group.values(), rates, strict=True) if abs(r - mid) <= tol]

    def _evaluate(self, key: _Key) -> Campaign | None:
        similar = self._similar(self._groups[key])
        if len(similar) < self.min_members:
            return None
        names = {m.entity for m in similar}
        active = self._find(key, names)
        if active is None:
            first = min(m.start for m in similar)
            raw = "\x1f".join((*key, f"{first:.3f}"))
            cid = hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
            active = _Active(cid, key[0], first, self.watermark)
            self._active[cid] = active
        active.keys.add(key)
        self._key_to_campaign[key] = active.campaign_id
        active.last_seen = self.watermark
        new = names - active.members
        if not new:
            return None
        active.members |= new
        active.score = max(active.score, *(m.score for m in similar))
        return Campaign(
            campaign_id=active.campaign_id,
            route=active.route,
            shared=tuple(sorted(f"{kind}={value}" for _, kind, value in active.keys)),
            first_window_start=active.first_start,
            window=(min(m.start for m in similar), max(m.end for m in similar)),
            members=tuple(sorted(active.members)),
            new_members=tuple(sorted(new)),
            score=active.score,
        )

    def _find(self, key: _Key, names: set[str]) -> _Active | None:
        cid = self._key_to_campaign.get(key)
        if cid is not None and cid in self._active:
            return self._active[cid]
        for active in sorted(self._active.values(), key=lambda a: a.campaign_id):
            if active.route == key[0] and 2 * len(names & active.members) >= len(names):
                return active
        return None

    def _expire(self) -> None:
        horizon = self.watermark - self.span
        queue = self._queue
        while queue and (queue[0].end < horizon or len(queue) > self.max_summaries):
            old = queue.popleft()
            keys = [(old.route, "ip_prefix", p) for p in set(old.ip_prefixes)]
            if old.user_agent:
                keys.append((old.route, "user_agent", old.user_agent))
            for key in keys:
                group = self._groups.get(key)
                if group is not None and group.get(old.entity) is old:
                    del group[old.entity]
                    if not group:
                        del self._groups[key]
        for cid in [c for c, a in self._active.items() if a.last_seen < horizon]:
            for key in self._active.pop(cid).keys:
                if self._key_to_campaign.get(key) == cid:
                    del self._key_to_campaign[key]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "state_version": STATE_VERSION}

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = state.pop("state_version", None)
        if version != STATE_VERSION:
            raise ValueError(
                f"CampaignCorrelator state version {version!r} cannot be loaded; "
                f"expected {STATE_VERSION}"
            )
        self.__dict__.update(state)
