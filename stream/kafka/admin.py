"""Create and describe topics through the Kafka admin API (confluent-kafka ``AdminClient``).

Creation is idempotent: a topic that already exists is reported with its actual partition
count and cleanup policy, never changed. An unreachable broker is a ``BrokerUnreachableError``
naming the bootstrap address, raised after ``timeout`` seconds instead of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from stream.errors import BrokerUnavailableError, ScrapewatchError
from stream.kafka.config import admin_config
from stream.settings import Settings
from stream.topics import TopicSpec

__all__ = [
    "BrokerUnreachableError",
    "KafkaAdminError",
    "TopicInfo",
    "TopicResult",
    "create_topics",
    "describe_topics",
    "ensure_reachable",
    "new_admin",
]


class KafkaAdminError(ScrapewatchError):
    """An admin operation failed; the message names the topic and the broker's answer."""


class BrokerUnreachableError(KafkaAdminError, BrokerUnavailableError):
    """No broker answered a metadata request at the bootstrap address within the timeout."""


@dataclass(frozen=True)
class TopicInfo:
    """A topic as the broker describes it."""

    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    retention_ms: int | None


@dataclass(frozen=True)
class TopicResult:
    """The outcome of creating one topic: ``created`` or ``exists``, and what is there now."""

    spec: TopicSpec
    status: Literal["created", "exists"]
    info: TopicInfo

    @property
    def matches(self) -> bool:
        """True when the broker's topic has the partitions and policy the spec asks for."""
        return (
            self.info.partitions == self.spec.partitions
            and self.info.cleanup_policy == self.spec.cleanup_policy
        )


def new_admin(settings: Settings, quiet: bool = False) -> AdminClient:
    """An ``AdminClient`` configured from ``settings``.

    ``quiet`` silences librdkafka's own log lines (a refused connection is logged every
    50 ms) for callers, such as the CLI, that report failures themselves.
    """
    return AdminClient(admin_config(settings, {"log_level": 2} if quiet else None))


def ensure_reachable(admin: AdminClient, bootstrap: str, timeout: float = 10.0) -> None:
    """Raise ``BrokerUnreachableError`` unless a broker answers metadata within ``timeout``."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise BrokerUnreachableError(
            f"no Kafka broker answered at {bootstrap} within {timeout:g} s "
            f"({_reason(exc)}); "
            "start one with `make kafka-up` or set SCRAPEWATCH_BOOTSTRAP_SERVERS"
        ) from None
    if not metadata.brokers:
        raise BrokerUnreachableError(f"the cluster at {bootstrap} reported no brokers")


def create_topics(
    admin: AdminClient,
    specs: Sequence[TopicSpec],
    bootstrap: str,
    timeout: float = 10.0,
) -> list[TopicResult]:
    """Create ``specs`` that do not exist yet; report every one as created or existing."""
    ensure_reachable(admin, bootstrap, timeout)
    new = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.config),
        )
        for spec in specs
    ]
    futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    statuses: dict[str, Literal["created", "exists"]] = {}
    for spec in specs:
        try:
            futures[spec.name].result()
            statuses[spec.name] = "created"
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaAdminError(
                    f"creating topic {spec.name!r} ({spec.partitions} partitions) at "
                    f"{bootstrap} failed: {error.str()}"
                ) from None
            statuses[spec.name] = "exists"
    infos = {info.name: info for info in describe_topics(admin, [s.name for s in specs], timeout)}
    return [TopicResult(spec, statuses[spec.name], infos[spec.name]) for spec in specs]


def describe_topics(
    admin: AdminClient, names: Iterable[str] | None = None, timeout: float = 10.0
) -> list[TopicInfo]:
    """Describe ``names`` (default: every non-internal topic), sorted by name.

    A freshly created topic may take a moment to appear in metadata; this waits for it
    up to ``timeout`` rather than reporting it missing.
    """
    wanted = None if names is None else list(names)
    metadata = _metadata_with(admin, wanted, timeout)
    if wanted is None:
        wanted = sorted(name for name in metadata.topics if not name.startswith("__"))
    missing = [name for name in wanted if name not in metadata.topics]
    if missing:
        raise KafkaAdminError(f"topics not found on the broker: {', '.join(missing)}")
    configs = _topic_configs(admin, wanted, timeout)
    infos = []
    for name in sorted(wanted):
        partitions = metadata.topics[name].partitions
        first = partitions.get(0)
        retention = configs[name].get("retention.ms")
        infos.append(
            TopicInfo(
                name=name,
                partitions=len(partitions),
                replication_factor=len(first.replicas) if first is not None else 0,
                cleanup_policy=configs[name].get("cleanup.policy", "delete"),
                retention_ms=int(retention) if retention not in (None, "") else None,
            )
        )
    return infos


def _metadata_with(admin: AdminClient, names: list[str] | None, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise BrokerUnreachableError(f"metadata request failed: {_reason(exc)}") from None
        ready = names is None or all(
            name in metadata.topics and metadata.topics[name].error is None for name in names
        )
        if ready or time.monotonic() >= deadline:
            return metadata
        time.sleep(0.1)


def _topic_configs(
    admin: AdminClient, names: list[str], timeout: float
) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    futures = admin.describe_configs(resources, request_timeout=timeout)
    result: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        try:
            entries = future.result()
        except KafkaException as exc:
            raise KafkaAdminError(
                f"describing the configs of topic {resource.name!r} failed: {_reason(exc)}"
            ) from None
        result[resource.name] = {key: entry.value for key, entry in entries.items()}
    return result


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)
