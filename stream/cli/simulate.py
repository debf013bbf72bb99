"""``scrapewatch simulate``: labelled, reproducible traffic of a shop as JSON lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from detectors.scenarios import SCENARIOS
from detectors.simulator import DEFAULT_START, SimConfig, Simulation
from stream import codec

__all__ = ["parse_scenarios", "register", "simulate"]

_PROGRESS_EVERY = 100_000


def parse_scenarios(text: str) -> frozenset[str]:
    """``all``, ``none`` or a comma-separated list of scenario names.

    >>> sorted(parse_scenarios("farm, burst_scraper"))
    ['burst_scraper', 'farm']
    """
    value = text.strip().lower()
    if value == "all":
        return frozenset(SCENARIOS)
    if value in ("none", ""):
        return frozenset()
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(SCENARIOS))
    if unknown:
        raise typer.BadParameter(
            f"unknown scenario(s) {', '.join(unknown)}; expected 'all', 'none' or a "
            f"comma-separated list of: {', '.join(SCENARIOS)}"
        )
    return names


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_progress(
    events: Iterator[dict[str, Any]], start: float, end: float
) -> Iterator[dict[str, Any]]:
    """Pass events through, reporting progress on stderr every ``_PROGRESS_EVERY``."""
    tty = sys.stderr.isatty()
    span = max(end - start, 1e-9)
    for n, ev in enumerate(events, 1):
        if n % _PROGRESS_EVERY == 0:
            done = min(100.0, 100.0 * (ev["ts"] - start) / span)
            line = f"simulated {n:,} events, up to {_clock(ev['ts'])} ({done:.0f}%)"
            sys.stderr.write(f"\r{line}" if tty else f"{line}\n")
            sys.stderr.flush()
        yield ev
    if tty:
        sys.stderr.write("\n")


def _summary(summary: Mapping[str, Mapping[str, int]], labels: int, seconds: float) -> str:
    total = sum(row["events"] for row in summary.values())
    lines = [
        f"events: {total:,}  entities: {labels:,}  in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):,.0f} events/s)",
        f"{'scenario':<22}{'entities':>10}{'events':>12}",
    ]
    for name in ("benign", *SCENARIOS):
        if name in summary:
            row = summary[name]
            lines.append(f"{name:<22}{row['entities']:>10,}{row['events']:>12,}")
    return "\n".join(lines)


def simulate(
    *,
    out: Annotated[
        Path | None, typer.Option("--out", help="Events file to write (JSON lines).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Labels file to write (JSON lines).")
    ] = None,
    to_kafka: Annotated[
        bool,
        typer.Option(
            "--to-kafka", help="Produce the events to the requests topic (settings' broker)."
        ),
    ] = False,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=0.0,
            help="With --to-kafka: event-time speed-up (1 = real time, 60 = a simulated "
            "minute per second); 0 sends as fast as possible.",
        ),
    ] = 0.0,
    now: Annotated[
        bool,
        typer.Option("--now", help="Shift event times so the simulation starts now."),
    ] = False,
    hours: Annotated[
        float, typer.Option("--hours", min=0.001, help="Simulated duration in hours.")
    ] = 6.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 7,
    scenarios: Annotated[
        str,
        typer.Option(
            "--scenarios", help=f"'all', 'none' or a comma list of: {', '.join(SCENARIOS)}."
        ),
    ] = "all",
    benign_accounts: Annotated[
        int, typer.Option("--benign-accounts", min=0, help="Benign logged-in accounts.")
    ] = 3000,
    anonymous_visitors: Annotated[
        int,
        typer.Option(
            "--anonymous-visitors", min=0, help="Benign anonymous visitors (one IP each)."
        ),
    ] = 1500,
    start: Annotated[
        float,
        typer.Option("--start", help="Start, epoch seconds (default 2026-01-05T00:00:00Z)."),
    ] = DEFAULT_START,
) -> None:
    """Write labelled, reproducible shop traffic (benign users plus attack scenarios)."""
    config = SimConfig(
        seed=seed,
        hours=hours,
        start=start,
        scenarios=parse_scenarios(scenarios),
        benign_accounts=benign_accounts,
        anonymous_visitors=anonymous_visitors,
    )
    if out is None and not to_kafka:
        raise typer.BadParameter("say where the events go: --out FILE and/or --to-kafka")
    began = time.perf_counter()
    sim = Simulation(config)
    shift = time.time() - start if now else 0.0
    events = _with_progress(sim.events(), start, start + hours * 3600)
    if shift:
        events = ({**ev, "ts": round(ev["ts"] + shift, 3)} for ev in events)
    with ExitStack() as stack:
        if out is not None:
            fh = stack.enter_context(open(out, "wb"))
            events = _tee(events, fh)
        if to_kafka:
            sent = _send(events, speed)
            typer.echo(f"sent {sent:,} events to Kafka", err=True)
        else:
            for _ in events:
                pass
    rows = sim.labels()
    if shift:
        rows = [{**r, "start": r["start"] + shift, "end": r["end"] + shift} for r in rows]
    if labels is not None:
        with open(labels, "wb") as fh:
            codec.write_json_lines(fh, rows)
    typer.echo(_summary(sim.summary(), len(rows), time.perf_counter() - began))


def _tee(events: Iterator[dict[str, Any]], fh: IO[bytes]) -> Iterator[dict[str, Any]]:
    for ev in events:
        codec.write_json_lines(fh, (ev,))
        yield ev


def _send(events: Iterator[dict[str, Any]], speed: float) -> int:
    """Produce to the settings' requests topic; exit 2 with the reason on a bad setup."""
    from stream.errors import ScrapewatchError
    from stream.feed import send_events
    from stream.kafka.admin import create_topics, new_admin
    from stream.kafka.config import producer_config
    from stream.settings import SettingsError, load_settings
    from stream.topics import project_topics

    try:
        settings = load_settings()
        create_topics(new_admin(settings), project_topics(settings), settings.bootstrap_servers)
    except (SettingsError, ScrapewatchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stats = send_events(producer_config(settings), settings.topic_requests, events, speed=speed)
    return stats.sent


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("simulate")(simulate)
