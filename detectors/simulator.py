"""Labelled, reproducible traffic of a shop: benign users plus switchable scenarios.

>>> sim = Simulation(SimConfig(hours=0.05, benign_accounts=20, anonymous_visitors=10))
>>> events = list(sim.events())
>>> all(a["ts"] <= b["ts"] for a, b in zip(events, events[1:]))
True
>>> sorted({label["scenario"] for label in sim.labels()})[:3]
['benign', 'burst_scraper', 'credential_stuffing']

Every actor (one entity: an account, or a client IP when anonymous) is a generator of its
own requests with its own seeded random stream; ``events()`` merges them by timestamp
with a heap, so memory stays bounded by the number of actors, not of events. Switching a
scenario on or off does not change anyone else's traffic.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Any

from detectors.scenarios import (
    ATTACKS,
    SCENARIOS,
    burst_scraper,
    credential_stuffer,
    farm_member,
    low_and_slow,
    uptime_probe,
)
from detectors.site import (
    BROWSER_AGENTS,
    MAX_SHOP_ID,
    MAX_USER_ID,
    SCRIPTED_AGENTS,
    AddressBook,
    diurnal,
)
from detectors.visitors import Burst, Emitted, Habits, Visitor, browse

__all__ = ["DEFAULT_START", "SCENARIOS", "Actor", "SimConfig", "Simulation"]

#: 2026-01-05T00:00:00Z
DEFAULT_START = 1_767_571_200.0
_MIN = 60_000
_FARM_SIZE = 40
_FARM_SPAN = 400  # ids reserved per farm account (2 h at one request every >= 20 s)
_FLASH_BUYERS = 300
_STUFFERS = 6
_SLICE_MS = 10_000
_MS = itemgetter(0)
_EVENT = itemgetter(1)
_FARM_AGENT = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.{build}.{patch} Mobile Safari/537.36"
)
_PROBE_AGENT = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate. Scenario times scale down with ``hours`` below 6 (tests)."""

    seed: int = 7
    hours: float = 6.0
    start: float = DEFAULT_START
    scenarios: frozenset[str] = frozenset(SCENARIOS)
    benign_accounts: int = 3000
    anonymous_visitors: int = 1500
    route_share: float = 1 / 3
    tz_offset_hours: float = 8.0
    warmup_minutes: float = 90.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.scenarios) - set(SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenarios {unknown}; expected some of {list(SCENARIOS)}")
        if not self.hours > 0:
            raise ValueError(f"hours must be positive, got {self.hours}")
        if self.benign_accounts < 0 or self.anonymous_visitors < 0:
            raise ValueError("benign_accounts and anonymous_visitors must be >= 0")


@dataclass(slots=True)
class Actor:
    """One labelled entity and how to generate its requests (a fresh generator per call)."""

    scenario: str
    entity_type: str
    entity: str
    malicious: bool
    campaign: str | None
    requests: Callable[[], Iterator[Burst]] = field(repr=False)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small means used here."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Simulation:
    """The actors of one run and their merged, timestamp-ordered requests."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        self.start_ms = round(cfg.start * 1000)
        self.end_ms = self.start_ms + round(cfg.hours * 3_600_000)
        self._scale = min(1.0, cfg.hours / 6.0)
        self._rng = random.Random(f"scrapewatch-sim/{cfg.seed}")
        self._book = AddressBook(self._rng)
        self._farm_prefixes = tuple(self._book.reserve_prefix() for _ in range(3))
        self._uids: set[int] = set()
        self.actors: list[Actor] = []
        self._spans: dict[int, tuple[int, int, int]] | None = None
        self._benign()
        self._scenarios()

    # -- identities ------------------------------------------------------------------------
    def _uid(self) -> int:
        while True:
            uid = self._rng.randint(1, MAX_USER_ID)
            if uid not in self._uids:
                self._uids.add(uid)
                return uid

    def _ips(self) -> tuple[str, ...]:
        u = self._rng.random()
        return tuple(self._book.ip() for _ in range(1 if u < 0.55 else 2 if u < 0.85 else 3))

    def _browser(self) -> str:
        return BROWSER_AGENTS[self._rng.randrange(len(BROWSER_AGENTS))]

    def _sub_rng(self, name: str) -> Callable[[], random.Random]:
        seed = f"{self.config.seed}/{name}"
        return lambda: random.Random(seed)

    def _at(self, minutes: float) -> int:
        """Epoch ms of a scenario time given for the default 6 h run (scaled when shorter)."""
        return self.start_ms + round(minutes * self._scale * _MIN)

    # -- benign background ---------------------------------------------------------------
    def _session_starts(self, rng: random.Random, count: int) -> list[int]:
        """``count`` session start times following the diurnal cycle (by thinning)."""
        cfg, span = self.config, self.end_ms - self.start_ms
        starts: list[int] = []
        while len(starts) < count:
            t = self.start_ms + int(rng.random() * span)
            if rng.random() < diurnal(t / 1000, cfg.tz_offset_hours):
                starts.append(t)
        return sorted(starts)

    def _benign(self) -> None:
        cfg, rng = self.config, self._rng
        per_run = cfg.hours / 6.0
        population = [(True, i) for i in range(cfg.benign_accounts)]
        population += [(False, i) for i in range(cfg.anonymous_visitors)]
        for logged_in, i in population:
            activity = min(rng.lognormvariate(0.0, 1.2), 40.0)
            habits = Habits(
                think_median_s=15.0 * rng.lognormvariate(0.0, 0.35),
                pages_mean=(12.0 if logged_in else 6.0) * rng.lognormvariate(0.0, 0.4),
            )
            if logged_in:
                uid = self._uid()
                who = Visitor(f"u{uid}", uid, self._ips(), self._browser())
                sessions = 1 + _poisson(rng, 2.4 * activity * per_run)
            else:
                who = Visitor(None, None, (self._book.ip(),), self._browser())
                sessions = 1 + _poisson(rng, 1.0 * activity * per_run)
            name = f"benign/{'account' if logged_in else 'anon'}/{i}"
            self._add("benign", who, habits, sessions, name)

    def _add(self, scenario: str, who: Visitor, habits: Habits, sessions: int | list[int],
             name: str) -> None:  # fmt: skip
        make_rng, end, share = self._sub_rng(name), self.end_ms, self.config.route_share

        def requests() -> Iterator[Burst]:
            rng = make_rng()
            starts = sessions if isinstance(sessions, list) else self._session_starts(rng, sessions)
            return browse(rng, who, habits, session_starts_ms=starts, end_ms=end, route_share=share)

        kind, entity = ("account", who.account) if who.account else ("ip", who.ips[0])
        self.actors.append(Actor(scenario, kind, entity, False, None, requests))

    # -- scenarios -------------------------------------------------------------------------
    def _scenarios(self) -> None:
        """Identities for every scenario are drawn even when it is off (stable streams)."""
        cfg, rng, on = self.config, self._rng, self.config.scenarios
        w, end, share = cfg.warmup_minutes, self.end_ms, cfg.route_share

        def add(scenario: str, kind: str, entity: str, campaign: str | None,
                gen: Callable[[random.Random], Iterator[Burst]]) -> None:  # fmt: skip
            if scenario in on:
                make_rng = self._sub_rng(f"{scenario}/{entity}")
                self.actors.append(Actor(scenario, kind, entity, scenario in ATTACKS, campaign,
                                         lambda: gen(make_rng())))  # fmt: skip

        # burst scraper: loud, short, sequential ids, one IP, scripted client
        acct = f"u{self._uid()}"
        add("burst_scraper", "account", acct, None, partial(
            burst_scraper, account=acct, ip=self._book.ip(), agent=SCRIPTED_AGENTS[0],
            start_ms=self._at(w), end_ms=self._at(w + 10), route_share=share))  # fmt: skip
        # low and slow: one new user id every ~10 s until the end of the run
        acct, ips = f"u{self._uid()}", (self._book.ip(), self._book.ip())
        add("low_and_slow", "account", acct, None, partial(
            low_and_slow, account=acct, ips=ips[: 1 + (rng.random() < 0.5)],
            agent=self._browser(), start_ms=self._at(w + 5), end_ms=end,
            route_share=share))  # fmt: skip
        # farm: 40 accounts on 3 shared /24s, each walking its own id range for ~2 h
        base = rng.randint(1, MAX_USER_ID - _FARM_SIZE * _FARM_SPAN)
        for k in range(_FARM_SIZE):
            acct, s = f"u{self._uid()}", self._at(w + 10 + rng.uniform(0.0, 4.0))
            agent = _FARM_AGENT.format(build=rng.choice((6367, 6422)), patch=rng.randint(60, 99))
            add("farm", "account", acct, "farm-1", partial(
                farm_member, account=acct, prefixes=self._farm_prefixes, agent=agent,
                first_id=base + k * _FARM_SPAN, start_ms=s,
                end_ms=min(end, s + self._at(120) - self.start_ms), route_share=share))  # fmt: skip
        # credential stuffing: 6 anonymous IPs hammering POST /login for ~10 minutes
        for k in range(_STUFFERS):
            ip, s = self._book.ip(), self._at(w + 60 + rng.uniform(0.0, 0.5))
            add("credential_stuffing", "ip", ip, "credstuff-1", partial(
                credential_stuffer, ip=ip, agent=SCRIPTED_AGENTS[1 + k % 2], start_ms=s,
                end_ms=s + self._at(10) - self.start_ms, route_share=share))  # fmt: skip
        # uptime probe: GET /health every 30 s for the whole run
        ip = self._book.ip()
        add("uptime_probe", "ip", ip, None, partial(
            uptime_probe, ip=ip, agent=_PROBE_AGENT, start_ms=self.start_ms, end_ms=end,
            route_share=share))  # fmt: skip
        # heavy shopper: a human who browses most of the day
        uid = self._uid()
        shopper = Visitor(f"u{uid}", uid, self._ips(), self._browser())
        starts, t = [], self.start_ms + rng.randint(0, 10 * _MIN)
        while t < end:
            starts.append(t)
            t += int(rng.uniform(3.0, 8.0) * _MIN)
        if "heavy_shopper" in on:
            habits = Habits(think_median_s=4.5, pages_mean=60.0, reviewer_weight=0.0)
            self._add("heavy_shopper", shopper, habits, starts, "heavy_shopper")
        # flash sale: 300 accounts rush to one shop within ~10 minutes
        shop, sale = rng.randint(1, MAX_SHOP_ID), self._at(w + 120)
        habits = Habits(think_median_s=10.0, pages_mean=8.0, login_p=0.6, focus_shop=shop)
        for k in range(_FLASH_BUYERS):
            uid = self._uid()
            buyer = Visitor(f"u{uid}", uid, self._ips(), self._browser())
            arrival = sale + int(min(rng.expovariate(1 / 150.0), 600.0) * 1000 * self._scale)
            if "flash_sale" in on:
                self._add("flash_sale", buyer, habits, [arrival], f"flash_sale/{k}")

    # -- output ----------------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        """All requests of the run in timestamp order, as event dicts.

        Actors wait in a heap keyed by their next burst; each ``_SLICE_MS`` of simulated
        time, the due actors are drained up to the slice end, the slice is sorted (stably,
        so ties keep a deterministic order) and what lies before its end is yielded; the
        tails of page views that straddle it wait for the next slice. Heap work is per
        actor and slice, not per event, and memory is about one slice of events.
        """
        gens: list[Iterator[Burst]] = []
        pending: list[Burst] = []
        firsts: dict[int, int] = {}
        counts = [0] * len(self.actors)
        heap: list[tuple[int, int]] = []
        for idx, actor in enumerate(self.actors):
            gen = actor.requests()
            first = next(gen, [])
            gens.append(gen)
            pending.append(first)
            if first:
                heap.append((first[0][0], idx))
                firsts[idx] = first[0][0]
        heapq.heapify(heap)
        spans: dict[int, tuple[int, int, int]] = {}
        push, pop = heapq.heappush, heapq.heappop
        origin, carry = self.start_ms, list[Emitted]()
        while heap or carry:
            # slices on a fixed grid: ties keep the same order whoever else is simulated
            due = heap[0][0] if heap else carry[-1][0]
            limit = origin + ((due - origin) // _SLICE_MS + 1) * _SLICE_MS
            batch: list[Emitted] = carry
            extend = batch.extend
            while heap and heap[0][0] < limit:
                idx = pop(heap)[1]
                burst = pending[idx]
                n = len(burst)
                extend(burst)
                for burst in gens[idx]:
                    if burst[0][0] >= limit:
                        pending[idx] = burst
                        push(heap, (burst[0][0], idx))
                        break
                    extend(burst)
                    n += len(burst)
                else:
                    spans[idx] = (firsts[idx], burst[-1][0], 0)
                counts[idx] += n
            batch.sort(key=_MS)
            cut = bisect_left(batch, limit, key=_MS)
            carry = batch[cut:]
            yield from map(_EVENT, islice(batch, cut))
        self._spans = {i: (a, b, counts[i]) for i, (a, b, _) in spans.items()}

    def labels(self) -> list[dict[str, Any]]:
        """One label per entity that made at least one request (runs the simulation once
        if ``events()`` has not been consumed to the end yet)."""
        if self._spans is None:
            for _ in self.events():
                pass
        assert self._spans is not None
        out = []
        for idx, (first, last, _) in sorted(self._spans.items()):
            a = self.actors[idx]
            out.append({
                "scenario": a.scenario, "entity_type": a.entity_type, "entity": a.entity,
                "malicious": a.malicious, "start": first / 1000, "end": last / 1000,
                "campaign": a.campaign,
            })  # fmt: skip
        return out

    def summary(self) -> dict[str, dict[str, int]]:
        """Per scenario: entities and events (after a full run of ``events()``)."""
        if self._spans is None:
            for _ in self.events():
                pass
        assert self._spans is not None
        out: dict[str, dict[str, int]] = {}
        for idx, (_, _, count) in self._spans.items():
            row = out.setdefault(self.actors[idx].scenario, {"entities": 0, "events": 0})
            row["entities"] += 1
            row["events"] += count
        return out
