"""Shared fixtures: one real Kafka broker per test session, and per-test factories.

The broker, in order of preference:

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set (an existing cluster, e.g. the compose stack);
2. a testcontainers Kafka when a Docker engine answers;
3. the project's local broker (``deploy/kafka/kafka_local.py up``), stopped at the end
   if a test session started it (not ``make kafka-up``) and no other test session still
   uses it.

``SCRAPEWATCH_TEST_BROKER=local|docker`` forces 2 or 3. No broker is a failure, never a
skip. Broker fixtures are session-scoped and lazy: unit tests never request them (a unit
test that does is a collection error), so they never start Kafka.

Factories (each test gets fresh names, so tests never see each other's messages)::

    def test_roundtrip(topic_factory, producer_factory, consumer_factory, consume_messages):
        topic = topic_factory(partitions=3)
        producer = producer_factory()
        producer.produce(topic, b"v", key=b"k")
        producer.flush()
        [message] = consume_messages(consumer_factory([topic]), 1)
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from stream.kafka.config import admin_config, consumer_config, producer_config
from stream.settings import Settings

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = REPO / "deploy" / "kafka" / "kafka_local.py"
BROKER_READY_TIMEOUT_S = 90.0
TEST_KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"

TopicFactory = Callable[..., str]
GroupIdFactory = Callable[[], str]
SettingsFactory = Callable[..., Settings]
ProducerFactory = Callable[..., Producer]
ConsumerFactory = Callable[..., Consumer]
ConsumeMessages = Callable[..., list[Message]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse unit tests that ask for the broker: unit tests run in seconds without Kafka."""
    unit_dir = REPO / "tests" / "unit"
    offenders = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(unit_dir)
        and "kafka_bootstrap" in getattr(item, "fixturenames", ())
    ]
    if offenders:
        raise pytest.UsageError(
            "unit tests must not use the Kafka broker (move them to tests/integration/): "
            + ", ".join(offenders)
        )


# --- the broker --------------------------------------------------------------------------


def _wait_for_metadata(bootstrap: str, timeout: float) -> None:
    # log_level 2: no librdkafka line per refused connection; the failure below says it all
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if admin.list_topics(timeout=2.0).brokers:
                return
        except KafkaException as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(
        f"no Kafka broker answered a metadata request at {bootstrap} within {timeout:.0f} s "
        f"({last}). Check KAFKA_BOOTSTRAP_SERVERS, or unset it to let the tests start the "
        "local broker.",
        pytrace=False,
    )


def _docker_answers() -> bool:
    try:
        import docker  # only needed when no broker address is given

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # any failure means: no usable Docker engine
        return False


def _container_broker() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(os.environ.get("SCRAPEWATCH_TEST_KAFKA_IMAGE", TEST_KAFKA_IMAGE))
    container.with_kraft()
    try:
        container.start()
    except Exception as exc:  # reported as a test failure with its cause
        pytest.fail(f"starting a Kafka container failed: {exc!r}", pytrace=False)
    try:
        bootstrap = str(container.get_bootstrap_server())
        _wait_for_metadata(bootstrap, BROKER_READY_TIMEOUT_S)
        yield bootstrap
    finally:
        container.stop()


def _launcher(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCHER), command, "--timeout", "60"],
        capture_output=True,
        text=True,
        check=False,
        timeout=BROKER_READY_TIMEOUT_S + 120,  # a cold start also fetches the jars
    )


def _live_users(sessions: Path) -> list[Path]:
    users = []
    for marker in sessions.glob("*"):
        if Path(f"/proc/{marker.name}").exists():
            users.append(marker)
        else:
            marker.unlink(missing_ok=True)
    return users


def _local_broker() -> Iterator[str]:
    port = int(os.environ.get("SCRAPEWATCH_LOCAL_KAFKA_PORT", "9092"))
    # Several test sessions of one checkout may share the broker; each leaves a marker
    # so that the one that started it does not stop it under the others.
    sessions = REPO / ".cache" / "kafka" / f"broker-{port}" / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    marker = sessions / str(os.getpid())
    marker.touch()
    result = _launcher("up")
    if result.returncode != 0:
        marker.unlink(missing_ok=True)
        pytest.fail(
            f"could not start the local Kafka broker with {LAUNCHER.relative_to(REPO)} up "
            f"(exit {result.returncode}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )
    started_by_tests = sessions.parent / "started-by-tests"
    if "already running" not in result.stdout:
        started_by_tests.touch()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        marker.unlink(missing_ok=True)
        # The last test session out stops a broker that a test session started; one
        # started with `make kafka-up` is left running.
        if started_by_tests.exists() and not _live_users(sessions):
            _launcher("down")
            started_by_tests.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of a real Kafka broker for this test session."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    choice = os.environ.get("SCRAPEWATCH_TEST_BROKER", "").strip().lower()
    if given:
        _wait_for_metadata(given, 30.0)
        yield given
    elif choice == "docker" or (choice != "local" and _docker_answers()):
        yield from _container_broker()
    else:
        yield from _local_broker()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    """An ``AdminClient`` on the session's broker."""
    return AdminClient(admin_config(Settings(bootstrap_servers=kafka_bootstrap)))


# --- per-test factories -------------------------------------------------------------------


def _unique(request: pytest.FixtureRequest, kind: str) -> str:
    test = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"{kind}-{test}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def group_id_factory(request: pytest.FixtureRequest) -> GroupIdFactory:
    """Returns a function that makes a fresh consumer group id."""

    def make() -> str:
        return _unique(request, "group")

    return make


@pytest.fixture
def topic_factory(
    request: pytest.FixtureRequest, kafka_admin: AdminClient
) -> Iterator[TopicFactory]:
    """Returns ``make(partitions=1, config=None, name=None) -> str``: creates a fresh topic.

    The topic exists (with a leader for every partition) when ``make`` returns; topics
    are deleted after the test.
    """
    created: list[str] = []

    def make(
        partitions: int = 1, config: Mapping[str, str] | None = None, name: str | None = None
    ) -> str:
        topic = name or _unique(request, "topic")
        futures = kafka_admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1,
                      config=dict(config or {}))],
            operation_timeout=30, request_timeout=30,
        )  # fmt: skip
        futures[topic].result()
        created.append(topic)
        _wait_for_leaders(kafka_admin, topic, partitions)
        return topic

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=10).values():
            # deleting is housekeeping; a failure must not fail the test
            with contextlib.suppress(KafkaException):
                future.result()


def _wait_for_leaders(admin: AdminClient, topic: str, partitions: int) -> None:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic=topic, timeout=5.0).topics.get(topic)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            return
        time.sleep(0.1)
    pytest.fail(f"topic {topic!r} has no leader for all {partitions} partitions after 30 s")


@pytest.fixture
def settings_factory(
    request: pytest.FixtureRequest, kafka_bootstrap: str, kafka_admin: AdminClient
) -> Iterator[SettingsFactory]:
    """Returns ``make(**overrides) -> Settings`` on the session's broker, with project topic
    names unique to this call (``<prefix>-requests``, ...) and a unique app id. The topics
    are not created: use ``stream.kafka.admin.create_topics`` (or the service) for that.

    After the test, every topic named after a prefix it made (the project topics and the
    workers' internal ones: changelogs, batches, assignor) is deleted, so a long-lived
    local broker does not collect thousands of them. (Workers are stopped first: pytest
    tears fixtures down in reverse order, and ``worker_factory`` comes after this one.)
    """
    prefixes: list[str] = []

    def make(**overrides: Any) -> Settings:
        prefix = _unique(request, "sw")
        prefixes.append(prefix)
        values: dict[str, Any] = {
            "bootstrap_servers": kafka_bootstrap,
            "app_id": prefix,
            "topic_requests": f"{prefix}-requests",
            "topic_requests_dlq": f"{prefix}-requests.dlq",
            "topic_alerts": f"{prefix}-alerts",
            "topic_endpoint_stats": f"{prefix}-endpoint-stats",
            "topic_feedback": f"{prefix}-feedback",
        }
        values.update(overrides)
        return Settings(**values)

    yield make
    if prefixes:
        names = kafka_admin.list_topics(timeout=10).topics
        doomed = [t for t in names if t.startswith(tuple(prefixes))]
        if doomed:
            for future in kafka_admin.delete_topics(doomed, operation_timeout=10).values():
                # housekeeping: a failure must not fail the test
                with contextlib.suppress(KafkaException):
                    future.result()


@pytest.fixture
def producer_factory(kafka_bootstrap: str) -> Iterator[ProducerFactory]:
    """Returns ``make(extra=None) -> Producer`` configured by ``stream.kafka.config``;
    producers are flushed after the test."""
    producers: list[Producer] = []

    def make(extra: Mapping[str, Any] | None = None) -> Producer:
        settings = Settings(bootstrap_servers=kafka_bootstrap)
        producer = Producer(producer_config(settings, extra))
        producers.append(producer)
        return producer

    yield make
    for producer in producers:
        producer.flush(10)


@pytest.fixture
def consumer_factory(
    kafka_bootstrap: str, group_id_factory: GroupIdFactory
) -> Iterator[ConsumerFactory]:
    """Returns ``make(topics, group=None, extra=None) -> Consumer``, subscribed from the
    earliest offset with a fresh group unless ``group`` is given; closed after the test."""
    consumers: list[Consumer] = []

    def make(
        topics: list[str], group: str | None = None, extra: Mapping[str, Any] | None = None
    ) -> Consumer:
        settings = Settings(bootstrap_servers=kafka_bootstrap)
        consumer = Consumer(consumer_config(settings, group or group_id_factory(), extra))
        consumer.subscribe(list(topics))
        consumers.append(consumer)
        return consumer

    yield make
    for consumer in consumers:
        consumer.close()


def consume_n(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Message]:
    """Read exactly ``count`` messages, failing the test if they do not come within
    ``timeout`` seconds (a guard against hanging, not a speed assertion)."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=count - len(messages), timeout=0.5):
            if message.error() is not None:
                raise KafkaException(message.error())
            messages.append(message)
    if len(messages) < count:
        pytest.fail(f"received {len(messages)} of {count} messages within {timeout:.0f} s")
    return messages


@pytest.fixture
def consume_messages() -> ConsumeMessages:
    """Returns ``consume_n(consumer, count, timeout=30.0) -> list[Message]``."""
    return consume_n
