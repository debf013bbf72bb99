"""The local broker launcher (``deploy/kafka/kafka_local.py``) and the session broker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer

from stream.kafka.config import consumer_config, producer_config
from stream.probe import free_port
from stream.settings import Settings

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "deploy" / "kafka" / "kafka_local.py"


def _launch(command: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRAPEWATCH_LOCAL_KAFKA_PORT": str(port)}
    return subprocess.run(
        [sys.executable, str(LAUNCHER), command],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def _kafka_pids(home: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline and str(home).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def own_broker_port() -> Iterator[int]:
    """A port for a broker of this test's own, stopped and removed afterwards."""
    port = free_port(count=2)  # the broker's port and the controller's after it
    home = REPO / ".cache" / "kafka" / f"broker-{port}"
    yield port
    _launch("down", port)
    shutil.rmtree(home, ignore_errors=True)
    (home.parent / f"broker-{port}.lock").unlink(missing_ok=True)


def test_up_twice_status_roundtrip_down_and_reset(own_broker_port: int) -> None:
    port = own_broker_port
    home = REPO / ".cache" / "kafka" / f"broker-{port}"

    first = _launch("up", port)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"ready at 127.0.0.1:{port}" in first.stdout

    second = _launch("up", port)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already running" in second.stdout
    assert len(_kafka_pids(home)) == 1

    status = _launch("status", port)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"running (pid {_kafka_pids(home)[0]}) at 127.0.0.1:{port}" in status.stdout

    settings = Settings(bootstrap_servers=f"127.0.0.1:{port}")
    producer = Producer(producer_config(settings))
    value = uuid.uuid4().bytes
    producer.produce("launcher-roundtrip", value, key=b"k")
    assert producer.flush(30) == 0
    consumer = Consumer(consumer_config(settings, group_id="launcher-test"))
    consumer.subscribe(["launcher-roundtrip"])
    try:
        messages: list[Message] = []
        for _ in range(60):  # a guard against hanging, not a speed check
            messages += [m for m in consumer.consume(1, timeout=1.0) if m.error() is None]
            if messages:
                break
        assert [m.value() for m in messages] == [value]
    finally:
        consumer.close()

    down = _launch("down", port)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped the broker" in down.stdout
    assert _kafka_pids(home) == []
    assert not (home / "kafka.pid").exists()
    after = _launch("status", port)
    assert after.returncode == 1
    assert "not running" in after.stdout

    # reset: the topic's data goes with the storage, and a second reset has nothing left
    assert any(p.name.startswith("launcher-roundtrip") for p in (home / "data").iterdir())
    reset = _launch("reset", port)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert f"deleted {home / 'data'}" in reset.stdout
    assert not (home / "data").exists()
    again = _launch("reset", port)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to delete" in again.stdout


def test_session_broker_round_trip(
    topic_factory: Callable[..., str],
    producer_factory: Callable[..., Producer],
    consumer_factory: Callable[..., Consumer],
    consume_messages: Callable[..., list[Message]],
) -> None:
    topic = topic_factory(partitions=3)
    producer = producer_factory()
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(30)}
    for key, value in sent.items():
        producer.produce(topic, value, key=key)
    assert producer.flush(30) == 0

    received = consume_messages(consumer_factory([topic]), len(sent))

    assert {m.key(): m.value() for m in received} == sent
    assert {m.partition() for m in received} == {0, 1, 2}
