"""The Kafka client layer: client configuration from ``Settings`` and the admin API."""

from __future__ import annotations

from stream.kafka.admin import (
    BrokerUnreachableError,
    KafkaAdminError,
    TopicInfo,
    TopicResult,
    create_topics,
    describe_topics,
    ensure_reachable,
)
from stream.kafka.config import (
    ClientConfig,
    admin_config,
    consumer_config,
    faust_broker_credentials,
    faust_broker_url,
    producer_config,
)

__all__ = [
    "BrokerUnreachableError",
    "ClientConfig",
    "KafkaAdminError",
    "TopicInfo",
    "TopicResult",
    "admin_config",
    "consumer_config",
    "create_topics",
    "describe_topics",
    "ensure_reachable",
    "faust_broker_credentials",
    "faust_broker_url",
    "producer_config",
]
