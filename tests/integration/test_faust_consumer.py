"""The worker's Faust consumer fetches with the settings ``stream.app`` gives it.

Faust builds its aiokafka consumer with a 1500 ms fetch wait and 1 MiB per partition.
aiokafka keeps one fetch in flight per broker, so a fetch waiting on an empty partition
(Faust's own ``__assignor-__leader`` is always empty) held back the agents' input for
1.5 s at a time. ``stream.app`` replaces both values by reaching into aiokafka (pinned);
this test starts the consumer on the real broker and reads what its fetcher uses, so an
upgrade that moves those attributes fails here rather than slowing workers silently.
"""

from __future__ import annotations

import asyncio

import pytest

from stream.app import FETCH_MAX_BYTES_PER_PARTITION, FETCH_MAX_WAIT_MS, create_app

pytestmark = pytest.mark.integration


def test_the_agents_consumer_fetches_with_a_short_wait_and_large_fetches(
    settings_factory, topic_factory
):
    topic = topic_factory(partitions=2)
    app = create_app(settings_factory())

    async def fetcher_settings() -> tuple[int, int]:
        thread = app.consumer._thread
        consumer = thread._create_worker_consumer(app.transport)
        await consumer.start()
        try:
            consumer.subscribe([topic])
            await consumer.getmany(timeout_ms=100)
            fetcher = consumer._fetcher
            return fetcher._fetch_max_wait_ms, fetcher._max_partition_fetch_bytes
        finally:
            await consumer.stop()

    wait_ms, per_partition = asyncio.run(fetcher_settings())
    assert wait_ms == FETCH_MAX_WAIT_MS == 20
    assert per_partition == FETCH_MAX_BYTES_PER_PARTITION
