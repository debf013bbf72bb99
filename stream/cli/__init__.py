"""``scrapewatch`` command line: one typer app, one module per command group."""

from __future__ import annotations

import typer

from stream import __version__

app = typer.Typer(
    name="scrapewatch",
    help="Streaming detector of scraping and abusive access.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the scrapewatch version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
