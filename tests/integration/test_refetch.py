"""Reading messages again by offset, on the real broker (what the agents do when Faust
skipped one)."""

from __future__ import annotations

from stream.kafka.config import consumer_config
from stream.refetch import RangeReader
from stream.settings import Settings


def test_a_range_of_offsets_is_read_again_in_order(
    kafka_bootstrap, topic_factory, producer_factory, group_id_factory
):
    topic = topic_factory(partitions=2)
    producer = producer_factory()
    for i in range(10):
        producer.produce(topic, value=f"m{i}".encode(), partition=1)
    producer.flush(10)
    settings = Settings(bootstrap_servers=kafka_bootstrap)
    reader = RangeReader(consumer_config(settings, group_id=group_id_factory()), timeout=20)

    assert reader.read(topic, 1, 3, 7) == [(o, f"m{o}".encode()) for o in range(3, 7)]
    # asked past the end: what there is, without waiting for the timeout
    assert reader.read(topic, 1, 8, 15) == [(8, b"m8"), (9, b"m9")]
    assert reader.read(topic, 1, 5, 5) == []
    assert reader.read(topic, 0, 0, 3) == []  # an empty partition
