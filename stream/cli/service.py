"""``scrapewatch worker`` and ``scrapewatch alerts tail``: running and watching the service."""

from __future__ import annotations

import signal
import sys
import time
import uuid
from types import FrameType
from typing import Annotated

import typer

from stream.errors import ScrapewatchError
from stream.settings import SettingsError, load_settings

__all__ = ["register"]

alerts_app = typer.Typer(help="Read the alerts topic.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``alerts`` group to the root app."""
    app.command()(worker)
    app.command()(demo)
    app.add_typer(alerts_app, name="alerts")


def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /metrics and /readyz (default: settings).")
    ] = None,
) -> None:
    """Run one worker: ingest bridge, Faust agents, /metrics. Start more to scale out."""
    from stream.worker import run_worker  # imports faust: only for this command

    try:
        overrides = {} if metrics_port is None else {"metrics_port": metrics_port}
        settings = load_settings(**overrides)
        run_worker(settings)
    except (SettingsError, ScrapewatchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def demo(
    hours: Annotated[float, typer.Option(help="Simulated hours of shop traffic.")] = 3.0,
    speed: Annotated[
        float, typer.Option(help="Event-time speed-up (120: three hours in 90 s).")
    ] = 120.0,
) -> None:
    """Start a worker, stream an accelerated simulation with every attack, print alerts live."""
    from stream.demo import run_demo

    try:
        settings = load_settings()
        code = run_demo(settings, hours=hours, speed=speed, echo=typer.echo)
    except (SettingsError, ScrapewatchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@alerts_app.command("tail")
def tail(
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest alert kept.")
    ] = False,
    max_alerts: Annotated[
        int | None, typer.Option("--max", help="Stop after this many alerts.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without an alert.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print raw alert JSON lines.")] = False,
) -> None:
    """Follow the alerts topic and print each alert readably (entity, severity, reasons)."""
    from confluent_kafka import Consumer

    from stream.alerts import decode_alert, format_alert
    from stream.kafka.config import consumer_config

    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    group = f"{settings.app_id}-tail-{uuid.uuid4().hex[:8]}"
    reset = "earliest" if from_beginning else "latest"
    consumer = Consumer(
        consumer_config(settings, group_id=group, extra={"auto.offset.reset": reset})
    )
    consumer.subscribe([settings.topic_alerts])
    stopping = False

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    seen = 0
    last = time.monotonic()
    try:
        while not stopping:
            msgs = consumer.consume(100, 0.5)
            for msg in msgs:
                if msg.error():
                    continue
                value = msg.value() or b""
                if json_out:
                    sys.stdout.write(value.decode("utf-8", "replace") + "\n")
                else:
                    try:
                        typer.echo(format_alert(decode_alert(value)))
                    except ScrapewatchError as exc:
                        typer.echo(f"(undecodable alert at offset {msg.offset()}: {exc})")
                seen += 1
                last = time.monotonic()
                if max_alerts is not None and seen >= max_alerts:
                    return
            sys.stdout.flush()
            if timeout is not None and time.monotonic() - last > timeout:
                return
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
