"""Plain-language reasons and evidence for alerts.

"touched 412 distinct sensitive resources (user profiles, phone numbers) in 60 s;
population p99 is 9": an operator reading an alert should see what the entity did, what
normal is, and the concrete endpoints, ids and addresses behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from detectors.alerts import Severity, make_alert

if TYPE_CHECKING:
    from detectors.campaign import Campaign
    from detectors.config import DetectionConfig
    from detectors.features import AccountWindow
    from detectors.population import PopulationModel

__all__ = [
    "account_alert",
    "campaign_alert",
    "endpoint_alert",
    "evidence_of",
    "fmt",
    "reason",
    "span_text",
    "top_endpoints",
]

_PHRASES: dict[str, str] = {
    "requests": "made {v} requests in {w}",
    "distinct_resources": "touched {v} distinct resources in {w}",
    "distinct_sensitive": "touched {v} distinct sensitive resources (user profiles, phone "
    "numbers) in {w}",
    "sensitive_requests": "made {v} requests to sensitive routes in {w}",
    "walked_resources": "walked {v} sequential resource ids in {w}",
    "auth_failures": "had {v} failed logins or denied requests in {w}",
    "machine_resources": "read {v} distinct resources with machine-like regularity in {w}",
    "machine_requests": "made {v} requests with machine-like regularity in {w}",
    "sequential_walk": "walked ids in sequence ({v} of steps) in {w}",
    "sensitive_share": "sent {v} of its requests to sensitive routes in {w}",
    "error_ratio": "had {v} of its requests fail in {w}",
    "distinct_sensitive_1h": "touched {v} distinct sensitive resources in the last hour",
    "distinct_sensitive_24h": "touched {v} distinct sensitive resources in the last 24 h",
    "distinct_resources_1h": "touched {v} distinct resources in the last hour",
    "sensitive_requests_1h": "made {v} requests to sensitive routes in the last hour",
}
_ENDPOINT_PHRASES: dict[str, str] = {
    "requests": "{e} received {v} requests in {w}; forecast was {b}",
    "distinct_accounts": "{e} was called by {v} distinct accounts in {w}; forecast was {b}",
    "distinct_resources": "{e} served {v} distinct resources in {w}; forecast was {b}",
}
_SHARES = frozenset({"sequential_walk", "sensitive_share", "error_ratio", "top_share"})
_AGAINST = {
    "population": "population p99 is {b}",
    "enumeration": "population p99 is {b}",
    "self_baseline": "its own usual is {b}",
    "endpoint": "forecast was {b}",
}


def fmt(v: float, share: bool = False) -> str:
    """A number for a sentence: ``412``, ``3.5``, ``87%``.

    >>> fmt(412.0), fmt(3.456), fmt(0.87, share=True)
    ('412', '3.46', '87%')
    """
    if share:
        return f"{v:.0%}"
    if abs(v - round(v)) < 1e-6:
        return str(round(v))
    return f"{v:.2f}"


def span_text(seconds: float) -> str:
    """``60 s``, ``5 min``: a window length for a sentence.

    >>> span_text(60.0), span_text(300.0)
    ('60 s', '5 min')
    """
    if seconds < 120:
        return f"{fmt(seconds)} s"
    return f"{fmt(seconds / 60.0)} min"


def reason(name: str, value: float, baseline: float | None, detector: str, window: float) -> str:
    """One plain-language reason for one feature against its baseline.

    >>> reason("requests", 412.0, 9.0, "population", 60.0)
    'made 412 requests in 60 s; population p99 is 9'
    """
    share = name in _SHARES
    phrase = _PHRASES.get(name, name.replace("_", " ") + " was {v} in {w}")
    text = phrase.format(v=fmt(value, share), w=span_text(window))
    if baseline is not None:
        against = _AGAINST.get(detector, "baseline is {b}")
        text += "; " + against.format(b=fmt(baseline, share))
    return text


def top_endpoints(counts: Mapping[str, int], k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` busiest endpoints, busiest first, ties by name."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [{"endpoint": e, "count": int(c)} for e, c in ranked]


def evidence_of(
    *,
    endpoints: Mapping[str, int] | None = None,
    resource_ids: Iterable[str] = (),
    client_ips: Iterable[str] = (),
    user_agents: Iterable[str] = (),
    top_accounts: Iterable[tuple[str, int]] = (),
    members: Iterable[str] = (),
    samples: int = 10,
) -> dict[str, Any]:
    """An alert's ``evidence`` object, bounded as the schema requires, sorted for replay."""
    out: dict[str, Any] = {}
    if endpoints:
        out["top_endpoints"] = top_endpoints(endpoints)
    ids = sorted(resource_ids, key=lambda i: (len(i), i))[: min(samples, 50)]
    if ids:
        out["resource_ids"] = ids
    ips = sorted(client_ips)[:50]
    if ips:
        out["client_ips"] = ips
    agents = list(user_agents)[:20]
    if agents:
        out["user_agents"] = agents
    accounts = [{"entity": e, "count": int(c)} for e, c in top_accounts]
    if accounts:
        out["top_accounts"] = accounts
    names = sorted(members)[:1000]
    if names:
        out["members"] = names
    return out


def account_alert(
    *,
    entity: str,
    acc: AccountWindow,
    x: Mapping[str, float],
    own: Mapping[str, float],
    model: PopulationModel | None,
    decision: tuple[str, float, float, Severity],
    window: tuple[float, float],
    config: DetectionConfig,
    emitted_at: float | None = None,
) -> dict[str, Any]:
    """The alert for one entity window; ``model`` is the population-style detector that
    fired (``None`` for the self baseline, judged against ``own``). ``emitted_at`` is the
    event time of the decision: the window end, unless it fired early, before the end."""
    detector, score, threshold, severity = decision
    if model is None:
        base: Mapping[str, float] = own
        values: dict[str, float] = dict(x)
        ranked = sorted(
            (n for n in own if n in x and x[n] > own[n]),
            key=lambda n: (-(x[n] + 1.0) / (own[n] + 1.0), n),
        )
    else:
        base = model.baselines()
        values = {**x, **model.derive(x)}
        excess = model.excesses(x)
        ranked = sorted(excess, key=lambda n: (-excess[n], n))
    reasons = [reason(n, values[n], base.get(n), detector, config.window) for n in ranked[:3]]
    if not reasons:
        reasons = [f"{detector} score {fmt(score)} is above its threshold {fmt(threshold)}"]
    features = {n: (v, base.get(n, own.get(n))) for n, v in values.items() if math.isfinite(v)}
    return make_alert(
        entity_type=acc.entity_type,
        entity=entity,
        detector=detector,
        score=score,
        threshold=threshold,
        severity=severity,
        window=window,
        features=features,
        reasons=reasons,
        evidence=evidence_of(
            endpoints=acc.endpoints,
            resource_ids=acc.sensitive_ids or acc.resources,
            client_ips=acc.ips,
            user_agents=acc.agents,
            samples=config.sample_ids,
        ),
        model_version=config.model_version,
        emitted_at=window[1] if emitted_at is None else emitted_at,
    )


def endpoint_alert(
    *,
    endpoint: str,
    features: Mapping[str, float],
    forecast: Mapping[str, float],
    top: Iterable[tuple[str, int]],
    sample_ids: Iterable[str],
    decision: tuple[float, float, Severity],
    window: tuple[float, float],
    config: DetectionConfig,
) -> dict[str, Any]:
    """The alert for one endpoint window, naming its top contributing accounts."""
    score, threshold, severity = decision
    top = list(top)
    ranked = sorted(
        (n for n in forecast if n in features),
        key=lambda n: -(features[n] + 1.0) / (forecast[n] + 1.0),
    )
    w = span_text(config.window)
    reasons = [
        _ENDPOINT_PHRASES[n].format(e=endpoint, v=fmt(features[n]), w=w, b=fmt(forecast[n]))
        for n in ranked[:2]
        if n in _ENDPOINT_PHRASES
    ]
    if top:
        who = ", ".join(f"{e} ({c})" for e, c in top[:3])
        share = fmt(features.get("top_share", 0.0), share=True)
        reasons.append(f"top contributors: {who}; the first made {share} of the requests")
    if not reasons:
        reasons = [f"endpoint score {fmt(score)} is above its threshold {fmt(threshold)}"]
    return make_alert(
        entity_type="endpoint",
        entity=endpoint,
        detector="endpoint",
        score=score,
        threshold=threshold,
        severity=severity,
        window=window,
        features={n: (v, forecast.get(n)) for n, v in features.items()},
        reasons=reasons,
        evidence=evidence_of(
            endpoints={endpoint: int(features.get("requests", 0))},
            resource_ids=sample_ids,
            top_accounts=top,
            samples=config.sample_ids,
        ),
        model_version=config.model_version,
        emitted_at=window[1],
    )


def campaign_alert(
    *,
    campaign: Campaign,
    min_members: int,
    joined: int,
    severity: Severity,
    window: tuple[float, float],
    config: DetectionConfig,
) -> dict[str, Any]:
    """The alert for one campaign: its members, what they share, the route they walk."""
    members = campaign.members
    shared = ", ".join(campaign.shared[:4])
    reasons = [
        f"{len(members)} accounts walked {campaign.route} alike within "
        f"{span_text(window[1] - campaign.first_window_start)}, sharing {shared}",
    ]
    if 0 < joined < len(members):
        reasons.append(f"{joined} joined since the last report")
    return make_alert(
        entity_type="campaign",
        entity=campaign.campaign_id,
        detector="campaign",
        score=float(len(members)),
        threshold=float(min_members),
        severity=severity,
        # the report's own window, so a grown campaign gets a new alert id
        window=window,
        features={"members": (float(len(members)), float(min_members))},
        reasons=reasons,
        evidence=evidence_of(endpoints={campaign.route: len(members)}, members=members),
        model_version=config.model_version,
        emitted_at=window[1],
    )
