"""``scrapewatch bench --accounts N``: resident memory per tracked account, and idle expiry.

1. a fresh worker starts on fresh, empty topics; once ready (and settled) its RSS is
   ``rss_before``;
2. N distinct accounts send a few cheap, realistic requests each (``requests`` per
   account, ``sensitive_share`` of the accounts view one user profile, so that their
   long-horizon sketches hold ids), ``per_second`` new accounts a second of event time
   (over at least 10 minutes); then one event per partition one window plus the lateness past
   the last one, which closes every window of the data by watermark;
3. when everything is processed and ``scrapewatch_entities_tracked`` stands still, its
   value is ``tracked`` and the RSS is ``rss_after``: bytes per tracked account =
   ``(rss_after - rss_before) / tracked`` (entity states, their long-horizon sketches and
   their changelog table entries, plus whatever the allocator kept);
4. idle expiry: one event per partition ``entity_ttl`` past the data, then one more a
   window later (which closes the first one's window: expiry runs at window close), and
   ``tracked`` again. It should fall to the closing entities (one per partition).
   ``expired`` is tracked before minus tracked after; ``expired_metric`` is the worker's
   ``scrapewatch_entities_expired_total``.

Windows close by watermark: the wall-clock idle close is set far off
(``idle_close_seconds``) so that a pause of the producer between the data and the
closing events cannot close anything early.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterator
from typing import Any

from detectors.config import DetectionConfig
from detectors.simulator import DEFAULT_START
from detectors.site import BROWSER_AGENTS, MAX_PRODUCT_ID, MAX_USER_ID, SEARCH_TERMS
from detectors.visitors import event
from stream.bench import (
    PROCESSED,
    BenchError,
    Echo,
    Workers,
    closers,
    fresh_run,
)
from stream.feed import send_events
from stream.kafka.config import producer_config
from stream.settings import Settings

__all__ = ["account_events", "account_request", "memory_table", "run_memory"]

TRACKED = 'scrapewatch_entities_tracked{kind="account"}'


def account_request(
    rng: random.Random, account: str, ip: str, ts: float, sensitive: bool = False
) -> dict[str, Any]:
    """One cheap, realistic benign request of ``account`` (a profile view if
    ``sensitive``, else a home, search, product or static page)."""
    agent = BROWSER_AGENTS[zlib.crc32(account.encode()) % len(BROWSER_AGENTS)]
    ms = int(ts * 1000)
    if sensitive:
        uid = rng.randint(1, MAX_USER_ID)
        path, route, size = f"/api/users/{uid}/profile", "/api/users/{id}/profile", 1_400
    else:
        kind = rng.random()
        if kind < 0.45:
            pid = rng.randint(1, MAX_PRODUCT_ID)
            path, route, size = f"/products/{pid}", "/products/{id}", 88_000
        elif kind < 0.7:
            path, route, size = f"/search?q={rng.choice(SEARCH_TERMS)}", "/search", 30_000
        elif kind < 0.85:
            path, route, size = "/", "/", 40_000
        else:
            path, route, size = "/static/app.3f9a2c1b.js", None, 250_000
    return event(
        ms, ip, "GET", path, 200, account, route if rng.random() < 1 / 3 else None,
        int(size * (0.6 + 0.8 * rng.random())), agent, f"s-{account}", "https://shop.example/",
    )  # fmt: skip


def account_events(
    accounts: int, requests: int, sensitive_share: float, seed: int, per_second: float = 200.0
) -> Iterator[dict[str, Any]]:
    """``requests`` events for each of ``accounts`` distinct accounts, roughly in time order:
    ``per_second`` new accounts a second of event time (over at least 10 minutes)."""
    rng = random.Random(seed)
    span = max(600.0, accounts / per_second)
    step = span / accounts
    for i in range(accounts):
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        account = f"acct-{i:07d}"
        sensitive = rng.random() < sensitive_share
        ts = DEFAULT_START + i * step
        for j in range(requests):
            yield account_request(rng, account, ip, ts + j * 0.7, sensitive and j == 1)


def _settle(worker: Workers, total: int, echo: Echo, what: str, timeout: float = 1800) -> float:
    """Wait until ``total`` events are processed and the tracked count stood still for 3 s;
    return that count. A worker whose counts stand still for 60 s short of ``total`` has
    stopped processing (see its log): a :class:`BenchError`, not a half-hour wait."""
    deadline = time.monotonic() + timeout
    last: tuple[float, float] = (-1.0, -1.0)
    still_since = last_report = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        worker.check()
        done, tracked = worker.metric(PROCESSED), worker.metric(TRACKED)
        now = time.monotonic()
        if (done, tracked) != last:
            last, still_since = (done, tracked), now
        elif done >= total and now - still_since >= 3.0:
            return tracked
        elif now - still_since >= 60.0:
            raise BenchError(
                f"memory bench: the worker stopped at {done:,.0f} of {total:,} events "
                f"processed ({what}); see {worker.logs}"
            )
        if now - last_report > 10:
            echo(f"  ... {what}: {done:,.0f} of {total:,} events, {tracked:,.0f} tracked")
            last_report = now
    raise BenchError(f"memory bench: {what} did not settle; see {worker.logs}")


def run_memory(
    base: Settings,
    *,
    accounts: int,
    requests: int = 3,
    sensitive_share: float = 0.3,
    per_second: float = 200.0,
    partitions: int = 6,
    seed: int = 7,
    echo: Echo,
) -> dict[str, Any]:
    """Measure bytes per tracked account and idle expiry on a fresh worker."""
    ttl = DetectionConfig().entity_ttl
    window, lateness = base.window_seconds, base.allowed_lateness_seconds
    updates = {"requests_partitions": partitions, "idle_close_seconds": 86_400}
    with fresh_run(base, "mem", **updates) as settings, Workers(settings) as worker:
        producer = producer_config(settings)
        topic = settings.topic_requests
        worker.wait_ready()
        time.sleep(3.0)  # let the first ticks, commits and fetches settle
        rss_before = worker.rss()
        echo(f"bench: memory: worker ready, RSS {rss_before / 2**20:.0f} MiB; producing "
             f"{accounts:,} accounts x {requests} requests")  # fmt: skip
        t0 = time.perf_counter()
        stats = send_events(
            producer, topic, account_events(accounts, requests, sensitive_share, seed)
        )
        last_ts = stats.last_ts or DEFAULT_START
        send_events(producer, topic, closers(partitions, last_ts + window + lateness + 1))
        total = stats.sent + partitions
        echo(f"bench: memory: produced {total:,} events in {time.perf_counter() - t0:.1f} s")
        tracked = _settle(worker, total, echo, "accounts")
        rss_after = worker.rss()
        echo(f"bench: memory: {tracked:,.0f} tracked, RSS {rss_after / 2**20:.0f} MiB")

        far = last_ts + ttl + 2 * window + lateness
        send_events(producer, topic, closers(partitions, far))
        send_events(producer, topic, closers(partitions, far + window + lateness + 1))
        total += 2 * partitions
        tracked_after = _settle(worker, total, echo, "expiry")
        rss_expired = worker.rss()
        peak = worker.peak_rss()
        expired_metric = worker.metric("scrapewatch_entities_expired_total")
    grown = rss_after - rss_before
    return {
        "accounts": accounts,
        "requests_per_account": requests,
        "sensitive_share": sensitive_share,
        "new_accounts_per_second": per_second,
        "events": total,
        "partitions": partitions,
        "window_seconds": window,
        "entity_ttl_seconds": ttl,
        "entities_tracked": tracked,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "peak_rss_bytes": peak,
        "bytes_per_tracked_account": grown / tracked if tracked else None,
        "entities_tracked_after_expiry": tracked_after,
        "expired": tracked - tracked_after,
        "expired_metric": expired_metric,
        "rss_after_expiry_bytes": rss_expired,
        "target_bytes_per_account": 1024,
    }


def memory_table(report: dict[str, Any]) -> list[str]:
    """The report of :func:`run_memory` as table lines."""
    mib = 2**20
    per = report["bytes_per_tracked_account"]
    rows = [
        ("accounts produced", f"{report['accounts']:,}"),
        ("entities tracked", f"{report['entities_tracked']:,.0f}"),
        ("RSS before (ready, empty topic)", f"{report['rss_before_bytes'] / mib:,.0f} MiB"),
        ("RSS after (all processed)", f"{report['rss_after_bytes'] / mib:,.0f} MiB"),
        ("peak RSS", f"{report['peak_rss_bytes'] / mib:,.0f} MiB"),
        ("bytes per tracked account", f"{per:,.0f} (target <= 1,024)" if per else "-"),
        ("tracked after idle expiry", f"{report['entities_tracked_after_expiry']:,.0f}"),
        ("expired (tracked before - after)", f"{report['expired']:,.0f}"),
        ("RSS after expiry", f"{report['rss_after_expiry_bytes'] / mib:,.0f} MiB"),
    ]
    return [f"{name:<34}{value:>24}" for name, value in rows]
