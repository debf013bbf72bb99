"""The Faust application of a worker, configured from :class:`~stream.settings.Settings`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from stream.kafka.config import faust_broker_credentials, faust_broker_url
from stream.settings import Settings

__all__ = ["FETCH_MAX_BYTES_PER_PARTITION", "FETCH_MAX_WAIT_MS", "create_app"]

#: How long the broker may hold one of the agents' fetch requests open when a partition
#: has nothing new. Faust fixes it at 1500 ms, and aiokafka keeps one fetch in flight per
#: broker: a fetch that waits for an empty partition (Faust's own ``__assignor-__leader``
#: topic is always empty) holds back the next fetch of ``requests.batches`` for as long.
#: At 1500 ms a worker spent most of its time waiting for input (``make bench``: 90,000
#: events/s and 1.1x for two workers; README, Performance). The price of a short wait is an
#: idle worker's polling: 6% of a core at 20 ms, 2% at 100 ms (which was slower under load).
FETCH_MAX_WAIT_MS = 20
#: Most bytes one fetch brings per partition (Faust's default, stated): with the short wait
#: above, 4 MiB fetched no faster, and the worker held ~300 MB more in prefetched batches
#: at a million accounts (``scrapewatch bench --accounts 1000000``: 1,042 bytes per account
#: against 742).
FETCH_MAX_BYTES_PER_PARTITION = 1024 * 1024


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread with a short fetch wait (see ``FETCH_MAX_WAIT_MS``)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher (aiokafka 0.14,
        # pinned; tests/unit/stream/test_app.py checks that it reaches the fetcher)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


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
    app = faust.App(
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
        consumer_max_fetch_size=FETCH_MAX_BYTES_PER_PARTITION,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_linger=0.005,
        table_standby_replicas=0,
    )
    app.transport = _Transport(app.conf.broker_consumer, app)
    return app
