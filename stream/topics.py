"""The project's Kafka topics: names from ``Settings``, partitions and retention policy.

>>> from stream.settings import Settings
>>> {t.name: t.cleanup_policy for t in project_topics(Settings())}["feedback"]
'compact'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stream.settings import Settings

__all__ = ["TopicSpec", "batches_topic", "project_topics"]

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the project wants it: name, partitions, replicas and topic configs."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    purpose: str = ""

    @property
    def cleanup_policy(self) -> str:
        """``delete`` (retention by time) or ``compact`` (last value per key)."""
        return self.config.get("cleanup.policy", "delete")


def _config(**values: str) -> Mapping[str, str]:
    return MappingProxyType({key.replace("_", "."): value for key, value in values.items()})


def batches_topic(settings: Settings) -> str:
    """The internal topic the ingest bridge writes and the account agent reads.

    Named after the app id, like Faust's own internal topics: two apps reading the same
    ``requests`` (a second deployment, a shadow model) must not share it.
    """
    return f"{settings.app_id}.{settings.topic_requests}.batches"


def project_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """Every topic scrapewatch reads or writes, in creation order.

    ``requests`` and its internal ``requests.batches`` hop are consumed by the worker
    group, so they get ``requests_partitions``; the others are low-volume and have one.
    """
    replicas = settings.replication_factor
    work = settings.requests_partitions
    return (
        TopicSpec(
            settings.topic_requests, work, replicas,
            # a week of history: `scrapewatch retrain` replays requests by time range
            _config(cleanup_policy="delete", retention_ms=str(7 * _DAY_MS)),
            "HTTP request events (key: account, else client IP)",
        ),
        TopicSpec(
            settings.topic_requests_dlq, 1, replicas,
            _config(cleanup_policy="delete", retention_ms=str(14 * _DAY_MS)),
            "rejected request messages: original bytes and reason",
        ),
        TopicSpec(
            settings.topic_alerts, 1, replicas,
            _config(cleanup_policy="delete", retention_ms=str(30 * _DAY_MS)),
            "alert.v1 JSON for blockers (key: entity_type:entity)",
        ),
        TopicSpec(
            batches_topic(settings), work, replicas,
            # internal hop: validated events, many per message (see README, worker design)
            _config(cleanup_policy="delete", retention_ms=str(_DAY_MS)),
            "validated events batched per source partition (internal, same partitioning)",
        ),
        TopicSpec(
            # one partition: it carries one small message per partition per window, and the
            # endpoint detector and campaign correlation need all of them in one place
            settings.topic_endpoint_stats, 1, replicas,
            _config(cleanup_policy="delete", retention_ms=str(6 * _HOUR_MS)),
            "per-partition endpoint counts and account summaries, one message per window",
        ),
        TopicSpec(
            settings.topic_feedback, 1, replicas,
            # the latest label per entity is what counts: compaction keeps it forever
            _config(cleanup_policy="compact", min_compaction_lag_ms=str(_HOUR_MS)),
            "operator labels and allowlist (key: entity_type:entity)",
        ),
    )  # fmt: skip
