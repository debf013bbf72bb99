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

from detectors.base import Record, VersionedState

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


class WindowSummary(Record):
    """What the correlator needs from one account window (built by the engine).

    ``route`` is the account's top sensitive route in the window (or its top route);
    ``interarrival_cv`` is ``None`` when the window had fewer than 3 requests; ``score``
    is the account's own best detector score for the window (evidence only).
    """

    #: the fields in order: ``__init__``'s, and that of pickles (see ``Record``)
    _fields = (
        "entity",
        "entity_type",
        "start",
        "end",
        "route",
        "requests",
        "distinct_sensitive",
        "sequential_walk",
        "interarrival_cv",
        "ip_prefixes",
        "user_agent",
        "score",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917  (the fields, in order, as the dataclass it was took them)
        self,
        entity: str,
        entity_type: str,
        start: float,
        end: float,
        route: str,
        requests: float,
        distinct_sensitive: float,
        sequential_walk: float,
        interarrival_cv: float | None,
        ip_prefixes: tuple[str, ...],
        user_agent: str | None,
        score: float = 0.0,
    ) -> None:
        self.entity = entity
        self.entity_type = entity_type
        self.start = start
        self.end = end
        self.route = route
        self.requests = requests
        self.distinct_sensitive = distinct_sensitive
        self.sequential_walk = sequential_walk
        self.interarrival_cv = interarrival_cv
        self.ip_prefixes = ip_prefixes
        self.user_agent = user_agent
        self.score = score


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


class CampaignCorrelator(VersionedState):
    """Groups machine-like sensitive-route windows by route and shared IP prefix or agent.

    A window is *eligible* when it touched at least ``min_distinct_sensitive`` sensitive
    resources and looks machine-made: sequential walk of at least ``min_walk``, or
    inter-arrival CV at most ``max_cv`` over at least ``min_cv_requests`` requests (the CV
    of two gaps is low half the time by chance), or own score at least ``min_score``. Eligible
    windows within ``span`` seconds of event time that share (route, IP prefix) or (route,
    user agent), from accounts with at least ``min_windows`` such windows whose latest
    request rates lie within a factor ``rate_ratio`` of the group's median, form a group;
    a group of ``min_members`` accounts is a campaign. A shared attribute only counts while
    at least ``min_share`` of the recent windows carrying it that were given to ``add``
    (eligible or not, decayed over ``span``) are eligible: a farm's /24 is nearly all
    machine walkers, the common browser agent of thousands of people is not (so give it
    every sensitive-route window, not only eligible ones). A group that shares a member
    with an active campaign on the same route joins it, so a farm whose accounts rotate
    over three /24s is one campaign.

    Parameters
    ----------
    span
        Correlation span in event-time seconds; older summaries expire.
    min_members
        Accounts needed for a campaign.
    min_distinct_sensitive, min_walk, max_cv, min_cv_requests, min_score
        Eligibility (see above).
    min_windows
        Eligible windows an account needs under a shared attribute within ``span`` to be
        a member (a person is machine-like by chance once; a farm account every minute).
    rate_ratio
        Largest factor between a member's requests and the group median.
    min_share
        Smallest eligible share of an attribute's recent windows for it to count as shared.
    share_prior
        Windows of prior evidence against sharing added to each share's denominator, so
        that a share is trusted only once the attribute has been seen a few times.
    max_summaries
        Hard bound on summaries kept (oldest dropped first).
    max_attributes
        Hard bound on attribute values (IP prefixes, agents) whose shares are tracked.

    Examples
    --------
    >>> c = CampaignCorrelator(min_members=3, min_windows=1, share_prior=0.0)
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
        min_cv_requests: float = 6.0,
        min_score: float = math.inf,
        min_windows: int = 3,
        rate_ratio: float = 3.0,
        min_share: float = 0.5,
        share_prior: float = 10.0,
        max_summaries: int = 200_000,
        max_attributes: int = 100_000,
    ) -> None:
        self.span = span
        self.min_members = min_members
        self.min_distinct_sensitive = min_distinct_sensitive
        self.min_walk = min_walk
        self.max_cv = max_cv
        self.min_cv_requests = min_cv_requests
        self.min_score = min_score
        self.min_windows = min_windows
        self.rate_ratio = rate_ratio
        self.min_share = min_share
        self.share_prior = share_prior
        self.max_summaries = max_summaries
        self.max_attributes = max_attributes
        self.watermark = -math.inf
        self._swept = -math.inf
        self._queue: deque[WindowSummary] = deque()
        # key -> entity -> that entity's eligible windows under the key, oldest first
        self._groups: dict[_Key, dict[str, list[WindowSummary]]] = {}
        self._active: dict[str, _Active] = {}
        self._key_to_campaign: dict[_Key, str] = {}
        # (kind, value) -> [decayed windows, decayed eligible windows, time of last update]
        self._shares: dict[tuple[str, str], list[float]] = {}

    def eligible(self, s: WindowSummary) -> bool:
        """Whether a window is machine-like activity on a sensitive route."""
        if s.distinct_sensitive < self.min_distinct_sensitive:
            return False
        regular = (
            s.interarrival_cv is not None
            and s.requests >= self.min_cv_requests
            and s.interarrival_cv <= self.max_cv
        )
        return s.sequential_walk >= self.min_walk or regular or s.score >= self.min_score

    def add(self, s: WindowSummary) -> list[Campaign]:
        """Take one account window; return campaigns that are new or gained members."""
        self.watermark = max(self.watermark, s.end)
        self._expire()
        eligible = self.eligible(s)
        keys = _keys(s)
        for _, kind, value in keys:
            self._count(kind, value, s.end, eligible)
        if not eligible:
            return []
        self._queue.append(s)
        before: dict[str, frozenset[str]] = {}
        windows: dict[str, tuple[float, float]] = {}
        for key in keys:
            self._groups.setdefault(key, {}).setdefault(s.entity, []).append(s)
            self._evaluate(key, before, windows)
        reports = []
        for cid in sorted(before):
            active = self._active[cid]
            new = active.members - before[cid]
            if new:
                reports.append(
                    Campaign(
                        campaign_id=cid,
                        route=active.route,
                        shared=tuple(sorted(f"{kind}={value}" for _, kind, value in active.keys)),
                        first_window_start=active.first_start,
                        window=windows[cid],
                        members=tuple(sorted(active.members)),
                        new_members=tuple(sorted(new)),
                        score=active.score,
                    )
                )
        return reports

    def __len__(self) -> int:
        """Summaries currently kept."""
        return len(self._queue)

    def share(self, kind: str, value: str) -> float:
        """Decayed share of recent windows carrying this attribute that were eligible."""
        counts = self._shares.get((kind, value))
        return 0.0 if counts is None else counts[1] / (counts[0] + self.share_prior)

    def _count(self, kind: str, value: str, now: float, eligible: bool) -> None:
        counts = self._shares.get((kind, value))
        if counts is None:
            if len(self._shares) >= self.max_attributes:
                self._prune_shares()
            self._shares[(kind, value)] = [1.0, float(eligible), now]
            return
        decay = math.exp(-max(now - counts[2], 0.0) / self.span)
        counts[0] = counts[0] * decay + 1.0
        counts[1] = counts[1] * decay + float(eligible)
        counts[2] = max(counts[2], now)

    def _prune_shares(self) -> None:
        """Drop the least recently seen half of the tracked attributes."""
        by_age = sorted(self._shares.items(), key=lambda kv: (kv[1][2], kv[0]))
        for attr, _ in by_age[: len(by_age) // 2 + 1]:
            del self._shares[attr]

    def _similar(self, group: dict[str, list[WindowSummary]]) -> list[WindowSummary]:
        """Latest window of each persistent member whose rate is near the group median."""
        latest = [ws[-1] for ws in group.values() if len(ws) >= self.min_windows]
        if len(latest) < self.min_members:
            return []
        rates = [math.log(max(m.requests, 1.0)) for m in latest]
        mid, tol = median(rates), math.log(self.rate_ratio)
        return [m for m, r in zip(latest, rates, strict=True) if abs(r - mid) <= tol]

    def _evaluate(
        self,
        key: _Key,
        before: dict[str, frozenset[str]],
        windows: dict[str, tuple[float, float]],
    ) -> None:
        """Grow (or start) the campaign of ``key``'s group; note members as they were."""
        if self.share(key[1], key[2]) < self.min_share:
            return
        similar = self._similar(self._groups[key])
        if len(similar) < self.min_members:
            return
        names = {m.entity for m in similar}
        active = self._find(key, set(self._groups[key]))
        if active is None:
            first = min(m.start for m in similar)
            raw = "\x1f".join((*key, f"{first:.3f}"))
            cid = hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
            active = _Active(cid, key[0], first, self.watermark)
            self._active[cid] = active
        cid = active.campaign_id
        before.setdefault(cid, frozenset(active.members))
        start, end = min(m.start for m in similar), max(m.end for m in similar)
        if cid in windows:
            start, end = min(start, windows[cid][0]), max(end, windows[cid][1])
        windows[cid] = (start, end)
        active.keys.add(key)
        self._key_to_campaign[key] = cid
        active.last_seen = self.watermark
        active.members |= names
        active.score = max(active.score, *(m.score for m in similar))

    def _find(self, key: _Key, names: set[str]) -> _Active | None:
        cid = self._key_to_campaign.get(key)
        if cid is not None and cid in self._active:
            return self._active[cid]
        for active in sorted(self._active.values(), key=lambda a: a.campaign_id):
            if active.route == key[0] and names & active.members:
                return active
        return None

    def _expire(self) -> None:
        horizon = self.watermark - self.span
        queue = self._queue
        while queue and (queue[0].end < horizon or len(queue) > self.max_summaries):
            old = queue.popleft()
            for key in _keys(old):
                group = self._groups.get(key)
                windows = None if group is None else group.get(old.entity)
                if group is None or not windows or windows[0] is not old:
                    continue
                del windows[0]
                if not windows:
                    del group[old.entity]
                    if not group:
                        del self._groups[key]
        if self.watermark - self._swept < self.span / 10:
            return  # full sweeps are O(tracked); do them a few times per span
        self._swept = self.watermark
        for cid in [c for c, a in self._active.items() if a.last_seen < horizon]:
            for key in self._active.pop(cid).keys:
                if self._key_to_campaign.get(key) == cid:
                    del self._key_to_campaign[key]
        for attr in [a for a, c in self._shares.items() if c[2] < horizon - self.span]:
            del self._shares[attr]


def _keys(s: WindowSummary) -> list[_Key]:
    keys = [(s.route, "ip_prefix", p) for p in sorted(set(s.ip_prefixes))]
    if s.user_agent:
        keys.append((s.route, "user_agent", s.user_agent))
    return keys
