"""The Faust application of a worker, configured from :class:`~stream.settings.Settings`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import faust

from stream.kafka.config import faust_broker_credentials, faust_broker_url
from stream.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> faust.App:
    """A Faust app whose tables live in memory and are rebuilt from their changelogs.

    ``stream_wait_empty`` is off because the account agent acknowledges a batch only when
    its windows have closed: a rebalance must not wait for that (the new owner re-reads the
    unacknowledged batches instead).
    """
    # Faust wants a data directory even for in-memory tables (it only makes empty folders
    # there); by default it is "<app_id>-data" in the working directory, which litters it
    datadir = Path(tempfile.gettempdir()) / "scrapewatch" / f"{settings.app_id}-data"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.app_id,
        datadir=str(datadir),
        broker=faust_broker_url(settings),
        broker_credentials=faust_broker_credentials(settings),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        stream_wait_empty=False,
        topic_partitions=settings.requests_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_linger=0.005,
        table_standby_replicas=0,
    )
