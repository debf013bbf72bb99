"""``scrapewatch bench``: the pipeline against raw consumption on the same topic, scale-out
and alert latency; with ``--accounts N``, memory per tracked account and idle expiry."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from stream.codec import dumps
from stream.errors import ScrapewatchError
from stream.settings import SettingsError, load_settings

__all__ = ["register"]


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` meanwhile (as Ctrl-C does), so that every
    ``Workers`` block stops its processes on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bench(  # noqa: PLR0917  (typer maps parameters to CLI options)
    events: Annotated[int, typer.Option(min=1000, help="Events to produce.")] = 2_000_000,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the topic.")] = 6,
    workers: Annotated[
        str, typer.Option(help="Comma list of worker counts to run, e.g. '1,2'.")
    ] = "1,2",
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    latency: Annotated[
        bool,
        typer.Option(
            "--latency/--no-latency", help="Also measure the alert latency of a burst scraper."
        ),
    ] = True,
    latency_window: Annotated[
        int, typer.Option(min=1, help="Window length (s) of the latency run's worker.")
    ] = 10,
    latency_lateness: Annotated[
        int | None,
        typer.Option(
            min=0, help="Allowed lateness (s) of the latency run (default: the settings')."
        ),
    ] = None,
    accounts: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Memory mode: N distinct accounts; report bytes per tracked account and "
            "idle expiry (instead of the throughput and latency runs).",
        ),
    ] = None,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Also write the figures to this file.")
    ] = None,
) -> None:
    """Produce N events, then measure raw consumption, the pipeline (1 and 2 workers) and
    the alert latency; or, with --accounts, the memory per tracked account."""
    from stream.bench import machine, machine_line, run_bench, table
    from stream.benchlatency import latency_line, run_latency
    from stream.benchmemory import memory_table, run_memory

    counts = [int(w) for w in workers.split(",") if w.strip()]
    echo = typer.echo
    try:
        settings = load_settings()
        with interruptible():
            if accounts is not None:
                memory = run_memory(settings, accounts=accounts, partitions=partitions, echo=echo)
                report: dict[str, Any] = {"memory": memory, "machine": machine()}
                lines = memory_table(memory)
            else:
                report = run_bench(
                    settings,
                    events=events,
                    partitions=partitions,
                    workers=counts,
                    seed=seed,
                    echo=echo,
                )
                lines = table(report)
                if latency:
                    report["latency"] = run_latency(
                        settings,
                        window=latency_window,
                        lateness=latency_lateness,
                        partitions=partitions,
                        seed=seed,
                        echo=echo,
                    )
                    lines.append(latency_line(report["latency"]))
    except (SettingsError, ScrapewatchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("bench: interrupted; its workers are stopped", err=True)
        raise typer.Exit(130) from None
    echo("")
    for line in lines:
        echo(line)
    echo(machine_line(report["machine"]))
    text = dumps(report).decode()
    echo(text)
    if json_out:
        with open(json_out, "w") as fh:
            fh.write(text + "\n")


def register(app: typer.Typer) -> None:
    """Add ``bench`` to the root app."""
    app.command()(bench)
