"""``scrapewatch replay`` and ``scrapewatch evaluate``: the detectors over a file, offline.

``replay`` runs a file of request events (JSON lines in the event contract, or nginx /
Apache combined access logs) through the same engine as the streaming worker, in event
time, and writes the alerts it would emit, one JSON alert per line. ``evaluate`` replays a
labelled simulation and prints, per scenario, detection, delay, coverage and false alarms.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from apachelogs import COMBINED, LogParser
from apachelogs import Error as LogError

from detectors.config import DetectionConfig
from detectors.evaluation import check, evaluate, format_table, targets_dict
from detectors.events import Request
from detectors.replay import ReplayStats, replay
from stream import codec
from stream.decoder import event_parser
from stream.events import Rejection, event_from_obj
from stream.process import tune_gc

__all__ = ["BadLogLine", "combined_parser", "register", "run_replay"]

Format = Literal["jsonl", "combined"]


@dataclass(frozen=True, slots=True)
class BadLogLine:
    """A combined-log line that does not parse (counted, never fatal)."""

    reason: str
    message: str


def combined_parser() -> Callable[[bytes], Request | Rejection | BadLogLine]:
    """Parser of one nginx/Apache combined log line into a validated ``Request``.

    The account is the remote user when it is not ``-``.

    >>> parse = combined_parser()
    >>> parse(b'203.0.113.5 - alice [05/Jan/2026:00:00:01 +0000] '
    ...       b'"GET /api/users/12/profile HTTP/1.1" 200 1400 "-" "curl/8.5.0"').account
    'alice'
    """
    parser = LogParser(COMBINED)

    def parse(line: bytes) -> Request | Rejection | BadLogLine:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        try:
            entry = parser.parse(text)
        except LogError as exc:
            return BadLogLine("bad_log_line", str(exc)[:300])
        parts = (entry.request_line or "").split(" ")
        when = entry.request_time
        if len(parts) < 2 or not isinstance(when, datetime):
            return BadLogLine("bad_log_line", f"no request line or time in {text[:200]!r}")
        headers = entry.headers_in or {}
        return event_from_obj(
            {
                "ts": when.timestamp(),
                "client_ip": entry.remote_host,
                "method": parts[0],
                "path": parts[1],
                "status": entry.final_status,
                "account": entry.remote_user,
                "bytes": entry.bytes_sent,
                "user_agent": headers.get("User-Agent"),
                "referer": headers.get("Referer"),
            }
        )

    return parse


def _progress(stats: ReplayStats) -> None:
    sys.stderr.write(
        f"replayed {stats.events:,} events ({stats.events_per_second:,.0f}/s), "
        f"{stats.bad_lines:,} bad lines\n"
    )
    sys.stderr.flush()


def run_replay(
    events: Path,
    emit: Callable[[dict[str, Any]], None],
    *,
    fmt: Format = "jsonl",
    partitions: int = 1,
    window: float = 60.0,
    progress: bool = True,
) -> ReplayStats:
    """Replay ``events`` (a file path) and pass each alert to ``emit``."""
    tune_gc()
    parse: Callable[[bytes], Any] = event_parser() if fmt == "jsonl" else combined_parser()
    with events.open("rb") as fp:
        lines: Iterable[bytes] = fp
        return replay(
            lines,
            parse,
            emit,
            config=DetectionConfig(window=window),
            partitions=partitions,
            progress=_progress if progress else None,
        )


def _summary_text(stats: ReplayStats) -> str:
    d = stats.to_dict()
    lines = [
        f"events: {d['events']:,}  bad lines: {d['bad_lines']:,}  late events: "
        f"{d['late_events']:,}  windows: {d['windows_closed']:,}  entities: {d['entities']:,}",
        f"alerts: {d['alerts']:,}  " + ", ".join(f"{k} {v}" for k, v in d["alerts_by"].items()),
        f"time: {d['seconds']:.1f} s wall, {d['cpu_seconds']:.1f} s CPU "
        f"({d['events_per_second']:,} events/s wall, {d['events_per_cpu_second']:,} per CPU s)",
    ]
    for reason, count in d["bad_reasons"].items():
        lines.append(f"  bad: {reason} x{count}")
    lines.extend(f"  e.g. {example}" for example in d["bad_examples"])
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add ``replay`` and ``evaluate`` to the root app."""

    @app.command("replay")
    def replay_command(  # noqa: PLR0917  (typer maps parameters to CLI options)
        events: Annotated[
            Path, typer.Argument(help="File of request events.", exists=True, dir_okay=False)
        ],
        out: Annotated[Path, typer.Option("--out", help="Alerts, one JSON object per line.")],
        fmt: Annotated[str, typer.Option("--format", help="jsonl or combined.")] = "jsonl",
        partitions: Annotated[int, typer.Option(min=1, help="Kafka partitions to mimic.")] = 1,
        window: Annotated[float, typer.Option(min=1.0, help="Window length, seconds.")] = 60.0,
        quiet: Annotated[bool, typer.Option(help="No progress on stderr.")] = False,
    ) -> None:
        """Run the detectors over EVENTS in event time; write the alerts to --out."""
        if fmt not in ("jsonl", "combined"):
            raise typer.BadParameter(
                f"expected 'jsonl' or 'combined', got {fmt!r}", param_hint="--format"
            )
        with out.open("wb") as sink:

            def emit(alert: dict[str, Any]) -> None:
                sink.write(codec.dumps_alert(alert) + b"\n")

            stats = run_replay(
                events,
                emit,
                fmt="combined" if fmt == "combined" else "jsonl",
                partitions=partitions,
                window=window,
                progress=not quiet,
            )
        typer.echo(_summary_text(stats), err=True)

    @app.command("evaluate")
    def evaluate_command(  # noqa: PLR0917  (typer maps parameters to CLI options)
        events: Annotated[
            Path,
            typer.Option(
                "--events", exists=True, dir_okay=False, help="Simulated events (JSON lines)."
            ),
        ],
        labels: Annotated[
            Path,
            typer.Option("--labels", exists=True, dir_okay=False, help="The simulation's labels."),
        ],
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the report.")] = None,
        alerts_out: Annotated[
            Path | None, typer.Option("--alerts", help="Also keep alerts.")
        ] = None,
        partitions: Annotated[int, typer.Option(min=1)] = 1,
        window: Annotated[float, typer.Option(min=1.0)] = 60.0,
        quiet: Annotated[bool, typer.Option(help="No progress on stderr.")] = False,
    ) -> None:
        """Replay a labelled simulation; per scenario: detected, delay, coverage, FPs."""
        alerts: list[dict[str, Any]] = []
        stats = run_replay(
            events, alerts.append, partitions=partitions, window=window, progress=not quiet
        )
        with labels.open("rb") as fp:
            rows = [obj for _, obj in codec.read_json_lines(fp)]
        report = evaluate(rows, alerts)
        report["targets"] = targets_dict()
        report["targets_met"] = check(report)
        report["replay"] = stats.to_dict()
        typer.echo(format_table(report))
        typer.echo(_summary_text(stats), err=True)
        if json_out is not None:
            json_out.write_bytes(codec.dumps(report) + b"\n")
        if alerts_out is not None:
            with alerts_out.open("wb") as sink:
                codec.write_json_lines(sink, alerts)
