"""``scrapewatch bench``: the pipeline against raw consumption on the same topic."""

from __future__ import annotations

from typing import Annotated

import typer

from stream.codec import dumps
from stream.errors import ScrapewatchError
from stream.settings import SettingsError, load_settings

__all__ = ["register"]


def bench(
    events: Annotated[int, typer.Option(min=1000, help="Events to produce.")] = 2_000_000,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the topic.")] = 6,
    workers: Annotated[
        str, typer.Option(help="Comma list of worker counts to run, e.g. '1,2'.")
    ] = "1,2",
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Also write the figures to this file.")
    ] = None,
) -> None:
    """Produce N events, then measure raw consumption and the pipeline on the same topic."""
    from stream.bench import run_bench

    counts = [int(w) for w in workers.split(",") if w.strip()]
    try:
        report = run_bench(
            load_settings(),
            events=events,
            partitions=partitions,
            workers=counts,
            seed=seed,
            echo=typer.echo,
        )
    except (SettingsError, ScrapewatchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    text = dumps(report).decode()
    typer.echo(text)
    if json_out:
        with open(json_out, "w") as fh:
            fh.write(text + "\n")


def register(app: typer.Typer) -> None:
    """Add ``bench`` to the root app."""
    app.command()(bench)
