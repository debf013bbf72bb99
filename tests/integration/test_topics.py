"""``scrapewatch topics create`` / ``list`` against the real broker."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from stream.cli import app
from stream.kafka.admin import describe_topics
from stream.settings import load_settings
from stream.topics import project_topics


@pytest.fixture
def topic_env(
    monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, kafka_admin: AdminClient
) -> Iterator[dict[str, str]]:
    """Environment naming this test's own project topics; they are deleted afterwards."""
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    env = {
        "SCRAPEWATCH_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SCRAPEWATCH_TOPIC_REQUESTS": f"{prefix}-requests",
        "SCRAPEWATCH_TOPIC_REQUESTS_DLQ": f"{prefix}-requests.dlq",
        "SCRAPEWATCH_TOPIC_ALERTS": f"{prefix}-alerts",
        "SCRAPEWATCH_TOPIC_ENDPOINT_STATS": f"{prefix}-endpoint-stats",
        "SCRAPEWATCH_TOPIC_FEEDBACK": f"{prefix}-feedback",
        "SCRAPEWATCH_REQUESTS_PARTITIONS": "4",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    names = [spec.name for spec in project_topics(load_settings())]
    yield env
    for future in kafka_admin.delete_topics(names, operation_timeout=10).values():
        with contextlib.suppress(KafkaException):  # housekeeping only
            future.result()


def test_topics_create_twice_is_idempotent(
    topic_env: dict[str, str], kafka_admin: AdminClient
) -> None:
    runner = CliRunner()
    specs = project_topics(load_settings())

    first = runner.invoke(app, ["topics", "create"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["topics", "create"])
    assert second.exit_code == 0, second.output

    for spec in specs:
        [line_1] = [line for line in first.output.splitlines() if line.startswith(spec.name + " ")]
        [line_2] = [line for line in second.output.splitlines() if line.startswith(spec.name + " ")]
        assert " created " in line_1
        assert " exists " in line_2
        assert f"{spec.partitions:>3} partitions" in line_2
        assert f"cleanup.policy={spec.cleanup_policy}" in line_2

    described = {info.name: info for info in describe_topics(kafka_admin, [s.name for s in specs])}
    for spec in specs:
        assert described[spec.name].partitions == spec.partitions
        assert described[spec.name].cleanup_policy == spec.cleanup_policy
    requests = topic_env["SCRAPEWATCH_TOPIC_REQUESTS"]
    feedback = topic_env["SCRAPEWATCH_TOPIC_FEEDBACK"]
    assert described[requests].partitions == 4
    assert described[feedback].cleanup_policy == "compact"


def test_topics_list_shows_missing_then_present(topic_env: dict[str, str]) -> None:
    runner = CliRunner()
    requests = topic_env["SCRAPEWATCH_TOPIC_REQUESTS"]

    before = runner.invoke(app, ["topics", "list"])
    assert before.exit_code == 0, before.output
    [line] = [line for line in before.output.splitlines() if line.startswith(requests + " ")]
    assert line.split()[1] == "missing"

    assert runner.invoke(app, ["topics", "create"]).exit_code == 0
    after = runner.invoke(app, ["topics", "list"])
    assert after.exit_code == 0, after.output
    assert "missing" not in after.output
    [line] = [line for line in after.output.splitlines() if line.startswith(requests + " ")]
    assert " 4 partitions" in line
    assert "cleanup.policy=delete" in line


def test_unreachable_broker_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["topics", "create", "--timeout", "1"])
    assert result.exit_code == 1
    assert "no Kafka broker answered at 127.0.0.1:1 within 1 s" in result.output


def test_bad_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEWATCH_REQUESTS_PARTITIONS", "0")
    result = CliRunner().invoke(app, ["topics", "create"])
    assert result.exit_code == 2
    assert "SCRAPEWATCH_REQUESTS_PARTITIONS" in result.output
