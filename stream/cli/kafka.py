"""``scrapewatch topics``: create and list the project's Kafka topics."""

from __future__ import annotations

import typer

from stream.kafka.admin import (
    KafkaAdminError,
    TopicInfo,
    create_topics,
    describe_topics,
    ensure_reachable,
    new_admin,
)
from stream.settings import Settings, SettingsError, load_settings
from stream.topics import project_topics

__all__ = ["register"]

topics_app = typer.Typer(
    name="topics",
    help="Create and inspect the project's Kafka topics (names from SCRAPEWATCH_TOPIC_*).",
    no_args_is_help=True,
)

_TIMEOUT = typer.Option(
    10.0, "--timeout", min=0.1, help="Seconds to wait for the broker before giving up."
)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _describe(info: TopicInfo) -> str:
    retention = "" if info.retention_ms is None else f"  retention.ms={info.retention_ms}"
    return (
        f"{info.partitions:>3} partitions  rf={info.replication_factor}  "
        f"cleanup.policy={info.cleanup_policy}{retention}"
    )


@topics_app.command("create")
def create(timeout: float = _TIMEOUT) -> None:
    """Create the project's topics; existing ones are reported and left unchanged."""
    settings = _settings()
    specs = project_topics(settings)
    try:
        results = create_topics(
            new_admin(settings, quiet=True), specs, settings.bootstrap_servers, timeout
        )
    except KafkaAdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    width = max(len(spec.name) for spec in specs)
    for result in results:
        line = f"{result.spec.name:<{width}}  {result.status:<7}  {_describe(result.info)}"
        if not result.matches:
            line += (
                f"  (configured: {result.spec.partitions} partitions, "
                f"cleanup.policy={result.spec.cleanup_policy}; left unchanged)"
            )
        typer.echo(line)


@topics_app.command("list")
def list_topics(
    every: bool = typer.Option(
        False, "--all", help="List every topic on the broker, not only the project's."
    ),
    timeout: float = _TIMEOUT,
) -> None:
    """List the project's topics as the broker has them (missing ones say so)."""
    settings = _settings()
    admin = new_admin(settings, quiet=True)
    try:
        ensure_reachable(admin, settings.bootstrap_servers, timeout)
        present = {info.name: info for info in describe_topics(admin, None, timeout)}
    except KafkaAdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    names = sorted(present) if every else [spec.name for spec in project_topics(settings)]
    width = max((len(name) for name in names), default=0)
    for name in names:
        info = present.get(name)
        described = _describe(info) if info is not None else "missing (scrapewatch topics create)"
        typer.echo(f"{name:<{width}}  {described}")


def register(app: typer.Typer) -> None:
    """Add the ``topics`` command group to the root app."""
    app.add_typer(topics_app, name="topics")
