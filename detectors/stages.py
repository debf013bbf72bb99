"""The two stages the streaming worker drives (and replay composes in ``detectors.engine``).

``AccountStage`` owns the accounts (or anonymous client IPs) of one Kafka partition: it
folds events into event-time windows, and when a window closes it scores every active
entity once, decides, explains, and hands back alerts, endpoint partial counts, campaign
summaries and the entity states to persist. ``EndpointStage`` combines the partials and
summaries of all partitions per endpoint and window, in an order-independent way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from detectors.alerts import SEVERITIES, Severity
from detectors.base import STATE_VERSION, check_state_version
from detectors.baseline import SelfBaseline
from detectors.campaign import CampaignCorrelator, WindowSummary, ip_prefix
from detectors.config import DetectionConfig
from detectors.decision import Calibrator, Decider, may_learn, severity_of
from detectors.endpoint import EndpointForecast
from detectors.enumeration import EnumerationDetector
from detectors.explain import account_alert, campaign_alert, endpoint_alert
from detectors.features import AccountWindow, EndpointPartial, EndpointWindow, combine_partials
from detectors.horizon import Horizon
from detectors.population import PopulationModel
from detectors.routes import Routes
from detectors.windows import WindowClock

__all__ = [
    "ACCOUNT_DETECTORS",
    "ENTITY_RECORD",
    "AccountModels",
    "AccountStage",
    "EndpointPartial",
    "EndpointStage",
    "EntityState",
    "StageOutput",
    "WindowSummary",
    "entity_state",
]

#: Account detectors in the order they are scored (ties in severity go to the first).
ACCOUNT_DETECTORS: tuple[str, ...] = ("population", "enumeration", "self_baseline")
_MAX_IPS_PER_SUMMARY = 4


def _prefix(ip: str) -> str:
    """``ip_prefix`` without the ``ipaddress`` cost for the common (validated IPv4) case."""
    if ":" in ip:
        return ip_prefix(ip)
    return ip[: ip.rfind(".")] + ".0/24"


class EntityState:
    """What one entity's durable state is: its long horizons and its self baseline.

    The baseline is created at the entity's first window busy enough to be judged against
    itself (``self_min_requests``): most tracked accounts never have one, and at a million
    accounts its few hundred bytes each are most of a worker's memory.
    """

    __slots__ = ("baseline", "entity_type", "horizon")

    def __init__(self, entity_type: str, baseline: SelfBaseline | None, horizon: Horizon) -> None:
        self.entity_type = entity_type
        self.baseline = baseline
        self.horizon = horizon

    def __reduce__(self) -> tuple[Any, ...]:
        # a flat tuple, not a dict of names: this is pickled once per active entity per
        # window into the changelog, and read back on every restore
        h = self.horizon
        return (
            _restore_entity,
            ((STATE_VERSION, self.entity_type, self.baseline, h.lg_k, h.hour, h.day),),
        )

    def to_record(self) -> tuple[Any, ...]:
        """This state as a tuple of builtins: what the worker writes to its changelog.

        Pickling a record is about five times faster than pickling the object (no class
        or function is looked up by name) and it is smaller: this is written once per
        active entity per window. :func:`entity_state` reads it back.
        """
        h, b = self.horizon, self.baseline
        return (
            ENTITY_RECORD,
            STATE_VERSION,
            self.entity_type,
            None if b is None else b.to_record(),
            h.lg_k,
            h.hour,
            h.day,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        # the dict form written before the flat one: still read, so old changelogs load
        check_state_version("EntityState", state)
        self.entity_type = state["entity_type"]
        self.baseline = state["baseline"]
        self.horizon = state["horizon"]


#: First element of an :meth:`EntityState.to_record` tuple.
ENTITY_RECORD = "entity"


def entity_state(stored: Any) -> EntityState:
    """The entity state a changelog value holds: a record (:meth:`EntityState.to_record`)
    or, as written by earlier releases, a pickled ``EntityState``."""
    if type(stored) is not tuple or not stored or stored[0] != ENTITY_RECORD:
        if not isinstance(stored, EntityState):
            raise ValueError(f"not an entity state: {type(stored).__name__}")
        return stored
    _, version, entity_type, baseline, lg_k, hour, day = stored
    check_state_version("EntityState", {"state_version": version})
    horizon = Horizon(lg_k)
    horizon.hour, horizon.day = hour, day
    return EntityState(
        entity_type, None if baseline is None else SelfBaseline.from_record(baseline), horizon
    )


def _restore_entity(state: tuple[Any, ...]) -> EntityState:
    version, entity_type, baseline, lg_k, hour, day = state
    check_state_version("EntityState", {"state_version": version})
    horizon = Horizon(lg_k)
    horizon.hour, horizon.day = hour, day
    return EntityState(entity_type, baseline, horizon)


@dataclass
class AccountModels:
    """The models one ``AccountStage`` shares among its entities (picklable snapshot)."""

    population: PopulationModel
    enumeration: EnumerationDetector
    decider: Decider
    state_version: int = STATE_VERSION

    @classmethod
    def create(cls, config: DetectionConfig) -> AccountModels:
        """Fresh models with the constructor arguments in ``config.extra``."""
        extra = config.extra
        return cls(
            population=PopulationModel(**extra.get("population", {})),
            enumeration=EnumerationDetector(**extra.get("enumeration", {})),
            decider=Decider(**extra.get("decider", {})),
        )


@dataclass
class StageOutput:
    """Everything one ``advance`` produced."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    partials: list[EndpointPartial] = field(default_factory=list)
    summaries: list[WindowSummary] = field(default_factory=list)
    updated: list[tuple[str, EntityState]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    late_events: int = 0
    windows_closed: int = 0


class AccountStage:
    """Windows, features, account detectors and decisions for one partition's entities.

    Parameters
    ----------
    config
        Detection settings.
    partition
        The Kafka partition this stage owns (the ``source`` of its endpoint partials).
    loader
        Consulted the first time an entity is seen (restore from a changelog table).
    models
        Shared models to start from (a snapshot); fresh ones otherwise.
    """

    def __init__(
        self,
        config: DetectionConfig,
        partition: int = 0,
        loader: Callable[[str], EntityState | None] | None = None,
        models: AccountModels | None = None,
    ) -> None:
        self.config = config
        self.partition = partition
        self.loader = loader
        self.models = models or AccountModels.create(config)
        self.routes = Routes(config.known_routes, config.sensitive_routes)
        self.clock = WindowClock(config.window, config.lateness, config.idle_timeout)
        # insertion order = order of last activity (a touched entity is re-inserted), so the
        # idle ones are at the front; a plain dict is ~60 bytes per entity lighter than
        # OrderedDict
        self.states: dict[str, EntityState] = {}
        self._open: dict[int, dict[str, AccountWindow]] = {}
        self._endpoints: dict[int, dict[str, EndpointWindow]] = {}
        # the window the last event fell in, and its two dicts (reset when windows close)
        self._current: int | None = None
        self._current_windows: tuple[dict[str, AccountWindow], dict[str, EndpointWindow]] = (
            {},
            {},
        )
        self._late_reported = 0
        self._cal_cache: tuple[Decider, tuple[Calibrator, ...]] | None = None
        policy = config.extra.get("account_policy", {})
        self.self_min_requests = int(policy.get("self_min_requests", 10))
        # early firing: a window that reaches early_requests (then 2x, 4x, ...) requests is
        # judged by the population model before it closes, so a burst scraper's alert does
        # not wait for the window end plus the allowed lateness (0 turns it off)
        self.early_requests = int(policy.get("early_requests", 64)) or 1 << 62
        self._early: list[tuple[int, float, str, AccountWindow, dict[str, float]]] = []

    @property
    def watermark(self) -> float:
        """Event-time watermark (largest event time minus the allowed lateness)."""
        return self.clock.watermark

    def open_windows(self) -> int:
        """Number of windows still open."""
        return len(self._open)

    def ingest(self, req: Any) -> None:
        """Fold one ``Request`` into its window (cheap: no scoring here)."""
        ts, ip, method, path, status, account, route, _, agent, _, _ = req
        endpoint, ids, sensitive = self.routes.classify(method, path, route)
        self.fold(ts, ip, account, endpoint, ids, sensitive, status, agent)

    def fold(  # noqa: PLR0917  (per event: positional arguments are the cheapest call)
        self,
        ts: float,
        ip: str,
        account: str | None,
        endpoint: str,
        ids: tuple[str, ...],
        sensitive: bool,
        status: int,
        agent: str | None,
    ) -> None:
        """:meth:`ingest` of a request already classified (``Routes.classify``): what the
        C ingest (``stream.fastingest``) calls for each event of a batch message."""
        k = self.clock.observe(ts)
        if k is None:
            return
        if k == self._current:
            wins, eps = self._current_windows
        else:
            if k not in self._open:
                self._open[k] = {}
                self._endpoints[k] = {}
            wins, eps = self._current_windows = (self._open[k], self._endpoints[k])
            self._current = k
        entity = ip if account is None else account
        acc = wins.get(entity)
        if acc is None:
            acc = wins[entity] = AccountWindow("ip" if account is None else "account")
        acc.add(ts, endpoint, ids, sensitive, status, ip, agent)
        n = acc.requests
        if n >= self.early_requests and not n & (n - 1):
            # judged later (see _judge_early) on the window as it is now, so the decision
            # and the alert's evidence do not depend on how events were batched (the copy
            # is made at 64, 128, 256... requests: at most two element copies per event)
            snap = acc.snapshot()
            self._early.append((k, ts, entity, snap, snap.features(0.0)))
        ep = eps.get(endpoint)
        if ep is None:
            ep = eps[endpoint] = EndpointWindow()
        ep.add(entity, ids)

    def ingest_all(self, rows: Iterable[Any]) -> None:
        """:meth:`ingest` each of ``rows`` in order (one call per batch, not per event)."""
        for row in rows:
            self.ingest(row)

    def raise_watermark(self, ts: float) -> None:
        """Tell the stage its input has passed event time ``ts`` (idle partition)."""
        self.clock.raise_to(ts)

    def advance(self, now: float | None = None) -> StageOutput:
        """Close every window the watermark (or idle wall clock ``now``) allows."""
        return self._close(self.clock.due(list(self._open), now))

    def flush(self) -> StageOutput:
        """Close every open window (end of stream)."""
        return self._close(self.clock.close_all(list(self._open)))

    def _close(self, due: list[int]) -> StageOutput:
        self._current = None
        out = StageOutput(windows_closed=len(due))
        for k in due:
            if self._early:
                self._judge_early(k, out)
            start = self.clock.start(k)
            end = start + self.config.window
            for entity, acc in self._open.pop(k).items():
                self._close_entity(entity, acc, start, end, out)
            cfg = self.config
            for endpoint, ep in sorted(self._endpoints.pop(k).items()):
                out.partials.append(
                    ep.partial(
                        endpoint=endpoint,
                        start=start,
                        end=end,
                        source=self.partition,
                        top_k=cfg.top_k,
                        lg_k=cfg.hll_lg_k,
                        samples=cfg.sample_ids,
                    )
                )
            self._expire(end, out)
            # forget cooldowns that are over (the same decisions, bounded memory)
            self.models.decider.cooldown.prune(end)
        if self._early and self._open:
            self._judge_early(min(self._open), out)
        out.late_events = self.clock.late - self._late_reported
        self._late_reported = self.clock.late
        return out

    def _judge_early(self, upto: int, out: StageOutput) -> None:
        """Judge the early candidates of windows up to ``upto`` by the population model.

        Called only when every window before ``upto`` has closed, so the model is the one
        that closed them, in a replay and in a worker alike, whatever the batching: early
        alerts are as deterministic as the others. The window's own close later alerts
        again only if its severity is higher (cooldown).
        """
        keep = []
        models = self.models
        population, decider = models.population, models.decider
        threshold = self._calibrators()[0].threshold  # ACCOUNT_DETECTORS[0]: population
        for cand in self._early:
            k, ts, entity, acc, x = cand
            if k > upto:
                keep.append(cand)
                continue
            score = population.score_derived(population.derive(x))
            if not score >= threshold:
                continue
            severity = severity_of(score, threshold, decider.scale)
            start = self.clock.start(k)
            end = start + self.config.window
            etype = acc.entity_type
            if (
                severity is None
                or decider.allowlist.contains(etype, entity, end)
                or not decider.cooldown.allow(f"{etype}:{entity}", severity, end)
            ):
                continue
            out.alerts.append(
                account_alert(
                    entity=entity,
                    acc=acc,
                    x=x,
                    own={},
                    model=population,
                    decision=("population", score, threshold, severity),
                    window=(start, end),
                    config=self.config,
                    # judged once the previous window closed: the watermark passed start
                    emitted_at=max(ts, start + self.config.lateness),
                )
            )
        self._early = keep

    def _state(self, entity: str, entity_type: str) -> EntityState:
        st = self.states.pop(entity, None)
        if st is None:
            st = self.loader(entity) if self.loader is not None else None
            if st is None:
                st = EntityState(entity_type, None, Horizon(self.config.hll_lg_k))
        self.states[entity] = st
        return st

    def _close_entity(
        self, entity: str, acc: AccountWindow, start: float, end: float, out: StageOutput
    ) -> None:
        etype = acc.entity_type
        st = self._state(entity, etype)
        long, new_ratio = st.horizon.update(
            start, acc.resources, acc.sensitive_ids, acc.sensitive_requests
        )
        x = acc.features(new_ratio)
        x.update(long)
        models, decider = self.models, self.models.decider
        population, enumeration = models.population, models.enumeration
        # each model derives its quantities once per window, for scoring and for learning
        pop_x = population.derive(x)
        enum_x = enumeration.derive(x)
        allowlisted = decider.allowlist.contains(etype, entity, end)
        # a window of a handful of requests says nothing about the account against itself
        # (one request is 100% of anything), so the self baseline neither scores nor learns it
        judged_by_self = acc.requests >= self.self_min_requests
        baseline = st.baseline
        if judged_by_self and baseline is None:
            baseline = st.baseline = SelfBaseline()
        scores = (
            population.score_derived(pop_x),
            enumeration.score_derived(enum_x),
            baseline.score_one(x) if baseline is not None and judged_by_self else 0.0,
        )
        flagged = False
        best: tuple[int, float, str, float, float, Severity] | None = None
        calibrators = self._calibrators()
        for name, score, cal in zip(ACCOUNT_DETECTORS, scores, calibrators, strict=True):
            if score <= 0.0 < cal.min_threshold:
                # most windows: a threshold is never below its positive minimum, so there
                # is nothing to read (the same decision, one quantile lookup fewer)
                if not allowlisted:
                    cal.update(score)
                continue
            threshold = cal.threshold
            if not allowlisted:
                cal.update(score)
            if not score >= threshold:  # below (or NaN): severity_of would say None
                continue
            severity = severity_of(score, threshold, decider.scale)
            if severity is None:
                continue
            flagged = True
            rank = (SEVERITIES.index(severity), score / threshold)
            if best is None or rank > best[:2]:
                best = (*rank, name, score, threshold, severity)
        if (
            best is not None
            and not allowlisted
            and decider.cooldown.allow(f"{etype}:{entity}", best[5], end)
        ):
            _, _, detector, score, threshold, severity = best
            model = population if detector == "population" else enumeration
            out.alerts.append(
                account_alert(
                    entity=entity,
                    acc=acc,
                    x=x,
                    own={} if baseline is None else baseline.baselines(),
                    model=None if detector == "self_baseline" else model,
                    decision=(detector, score, threshold, severity),
                    window=(start, end),
                    config=self.config,
                )
            )
        if may_learn(flagged=flagged, allowlisted=allowlisted):
            if baseline is not None and judged_by_self:
                baseline.learn_one(x)
            population.learn_derived(pop_x, x)
            enumeration.learn_derived(enum_x, x)
        out.updated.append((entity, st))
        if acc.sensitive_ids and not allowlisted:
            # every sensitive-route window, eligible or not: the correlator weighs how much
            # of an IP prefix's or agent's traffic is machine-like before trusting it
            out.summaries.append(
                self._summary(entity=entity, acc=acc, x=x, start=start, end=end, score=max(scores))
            )

    def _calibrators(self) -> tuple[Calibrator, ...]:
        """The account detectors' calibrators, in ``ACCOUNT_DETECTORS`` order (cached per
        decider: a restored snapshot of ``models`` brings its own)."""
        decider = self.models.decider
        cached = self._cal_cache
        if cached is None or cached[0] is not decider:
            cached = self._cal_cache = (
                decider,
                tuple([decider.calibrator(name) for name in ACCOUNT_DETECTORS]),
            )
        return cached[1]

    def _summary(
        self,
        *,
        entity: str,
        acc: AccountWindow,
        x: dict[str, float],
        start: float,
        end: float,
        score: float,
    ) -> WindowSummary:
        sensitive = [e for e in acc.endpoints if self.routes.is_sensitive(e)]
        ranked = sorted(sensitive or acc.endpoints, key=lambda e: (-acc.endpoints[e], e))
        prefixes = sorted({_prefix(ip) for ip in sorted(acc.ips)[:_MAX_IPS_PER_SUMMARY]})
        return WindowSummary(
            entity=entity,
            entity_type=acc.entity_type,
            start=start,
            end=end,
            route=ranked[0],
            requests=x["requests"],
            distinct_sensitive=x["distinct_sensitive"],
            sequential_walk=x["sequential_walk"],
            interarrival_cv=x.get("interarrival_cv"),
            ip_prefixes=tuple(prefixes),
            user_agent=acc.agents[0] if acc.agents else None,
            score=score,
        )

    def _expire(self, now: float, out: StageOutput) -> None:
        horizon = now - self.config.entity_ttl
        states = self.states
        while states:
            entity, st = next(iter(states.items()))
            if st.horizon.last_seen >= horizon:
                break
            del states[entity]
            out.expired.append(entity)


class EndpointStage:
    """Combines every partition's partials and summaries; endpoint and campaign alerts.

    A window closes when every source's watermark has passed its end (or, with ``now``,
    after ``idle_timeout`` without input). Within a window, endpoints are judged in name
    order and summaries fed to the correlator sorted by entity, and a repeated partial or
    summary replaces the earlier copy, so the same multiset of inputs gives the same
    alerts whatever their arrival order.

    Parameters
    ----------
    config
        Detection settings.
    sources
        Number of account stages (partitions) feeding this stage.
    """

    def __init__(self, config: DetectionConfig, sources: int) -> None:
        if sources < 1:
            raise ValueError(f"sources must be >= 1, got {sources}")
        self.config = config
        self.sources = sources
        extra = config.extra
        self.routes = Routes(config.known_routes, config.sensitive_routes)
        self.forecasts: dict[str, EndpointForecast] = {}
        self.decider = Decider(**extra.get("endpoint_decider", {}))
        self.correlator = CampaignCorrelator(**extra.get("campaign", {}))
        self.broad_share = float(extra.get("endpoint_policy", {}).get("broad_share", 0.2))
        self.clock = WindowClock(config.window, 0.0, config.idle_timeout)
        self.late = 0
        self._watermarks = [-math.inf] * sources
        self._parts: dict[int, dict[tuple[str, int], EndpointPartial]] = {}
        self._summaries: dict[int, dict[tuple[str, str], WindowSummary]] = {}
        self._alerted: dict[str, tuple[int, int]] = {}  # campaign -> (members, severity rank)

    def add_partial(self, p: EndpointPartial) -> None:
        """Take one partition's counts for one endpoint window."""
        k = self.clock.index(p.start)
        if k < self.clock.closed_until:
            self.late += 1
            return
        self.clock.touch()
        self._parts.setdefault(k, {})[(self.routes.label(p.endpoint), p.source)] = p

    def add_summary(self, s: WindowSummary) -> None:
        """Take one account window summary for campaign correlation."""
        k = self.clock.index(s.start)
        if k < self.clock.closed_until:
            self.late += 1
            return
        self.clock.touch()
        self._summaries.setdefault(k, {})[(s.entity_type, s.entity)] = s

    def source_watermark(self, source: int, ts: float) -> None:
        """Record that ``source`` has closed every window ending at or before ``ts``."""
        if ts > self._watermarks[source]:
            self._watermarks[source] = ts
            self.clock.raise_to(min(self._watermarks))

    def advance(self, now: float | None = None) -> list[dict[str, Any]]:
        """Close the windows every source has passed; their alerts."""
        return self._close(self.clock.due(self._pending(), now))

    def flush(self) -> list[dict[str, Any]]:
        """Close every pending window (end of stream)."""
        return self._close(self.clock.close_all(self._pending()))

    def _pending(self) -> list[int]:
        return sorted(set(self._parts) | set(self._summaries))

    def _close(self, due: list[int]) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for k in due:
            start = self.clock.start(k)
            window = (start, start + self.config.window)
            by_endpoint: dict[str, list[EndpointPartial]] = {}
            for (label, _), p in self._parts.pop(k, {}).items():
                by_endpoint.setdefault(label, []).append(p)
            for endpoint in sorted(by_endpoint):
                alert = self._endpoint(endpoint, by_endpoint[endpoint], window)
                if alert is not None:
                    alerts.append(alert)
            reports = {}
            for _, s in sorted(self._summaries.pop(k, {}).items()):
                for c in self.correlator.add(s):
                    reports[c.campaign_id] = c
            for cid in sorted(reports):
                alert = self._campaign(reports[cid], window)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _endpoint(
        self, endpoint: str, parts: list[EndpointPartial], window: tuple[float, float]
    ) -> dict[str, Any] | None:
        cfg = self.config
        feats, top, ids = combine_partials(parts, cfg.top_k, cfg.hll_lg_k, cfg.sample_ids)
        forecast = self.forecasts.get(endpoint)
        if forecast is None:
            forecast = self.forecasts[endpoint] = EndpointForecast(**cfg.extra.get("endpoint", {}))
        score = forecast.score_one(feats)
        baselines = forecast.baselines()
        cal = self.decider.calibrator("endpoint")
        threshold = cal.threshold
        severity = severity_of(score, threshold, self.decider.scale)
        cal.update(score)
        if severity is None:
            forecast.learn_one(feats)
            return None
        if feats["requests"] < cfg.endpoint_min_requests:
            return None
        if feats["top_share"] < self.broad_share and not self.routes.is_sensitive(endpoint):
            severity = "low"  # a broad surge (a sale, a campaign email) is news, not abuse
        if not self.decider.cooldown.allow(f"endpoint:{endpoint}", severity, window[1]):
            return None
        return endpoint_alert(
            endpoint=endpoint,
            features=feats,
            forecast=baselines,
            top=top,
            sample_ids=ids,
            decision=(score, threshold, severity),
            window=window,
            config=cfg,
        )

    def _campaign(self, c: Any, window: tuple[float, float]) -> dict[str, Any] | None:
        minimum = self.correlator.min_members
        severity = severity_of(float(len(c.members)), float(minimum), self.decider.scale)
        if severity is None:
            return None
        rank = SEVERITIES.index(severity)
        last = self._alerted.get(c.campaign_id)
        if last is not None and rank <= last[1] and 5 * len(c.members) < 6 * last[0]:
            return None  # grew by less than 20% without a higher severity
        self._alerted[c.campaign_id] = (len(c.members), rank)
        return campaign_alert(
            campaign=c,
            min_members=minimum,
            joined=len(c.members) - (0 if last is None else last[0]),
            severity=severity,
            window=window,
            config=self.config,
        )
