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


@app.callback()
def _root() -> None:
    """Streaming detector of scraping and abusive access."""


@app.command()
def version() -> None:
    """Print the scrapewatch version."""
    typer.echo(__version__)


from stream.cli import bench, kafka, replay, service, simulate  # noqa: E402  (after app exists)

for _module in (kafka, simulate, replay, service, bench):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
