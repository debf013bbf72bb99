"""``stream.settings``: defaults, environment overrides and precise errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from stream.kafka.config import (
    consumer_config,
    faust_broker_credentials,
    faust_broker_url,
    producer_config,
)
from stream.settings import Settings, SettingsError, load_settings
from stream.topics import project_topics


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from an environment without any scrapewatch or Kafka variables."""
    for name in list(os.environ):
        if name.upper().startswith(("SCRAPEWATCH_", "KAFKA_")):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.bootstrap_servers == "localhost:9092"
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.topic_names() == [
        "requests",
        "requests.dlq",
        "alerts",
        "endpoint-stats",
        "feedback",
    ]
    assert (settings.requests_partitions, settings.replication_factor) == (6, 1)
    assert settings.app_id == "scrapewatch"
    assert (settings.window_seconds, settings.allowed_lateness_seconds) == (60, 10)
    assert settings.idle_close_seconds == 10
    assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9102)
    assert settings.log_level == "INFO"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEWATCH_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("SCRAPEWATCH_WINDOW_SECONDS", "30")
    monkeypatch.setenv("scrapewatch_topic_alerts", "prod.alerts")
    monkeypatch.setenv("SCRAPEWATCH_LOG_LEVEL", "debug")
    monkeypatch.setenv("SCRAPEWATCH_REQUESTS_PARTITIONS", "12")
    settings = load_settings()
    assert settings.bootstrap_servers == "k1:9092,k2:9093"
    assert settings.window_seconds == 30
    assert settings.topic_alerts == "prod.alerts"
    assert settings.log_level == "DEBUG"
    partitions = {t.name: t.partitions for t in project_topics(settings)}
    assert partitions["requests"] == 12
    assert partitions["prod.alerts"] == 1
    assert faust_broker_url(settings) == "kafka://k1:9092;k2:9093"


def test_plain_kafka_bootstrap_servers_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
    assert load_settings().bootstrap_servers == "broker:29092"
    monkeypatch.setenv("SCRAPEWATCH_BOOTSTRAP_SERVERS", "mine:9092")
    assert load_settings().bootstrap_servers == "mine:9092"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SCRAPEWATCH_WINDOW_SECONDS", "0", "SCRAPEWATCH_WINDOW_SECONDS: Input should be greater"),
        ("SCRAPEWATCH_WINDOW_SECONDS", "soon", "SCRAPEWATCH_WINDOW_SECONDS: Input should be a"),
        ("SCRAPEWATCH_METRICS_PORT", "70000", "SCRAPEWATCH_METRICS_PORT: Input should be less"),
        ("SCRAPEWATCH_REQUESTS_PARTITIONS", "-3", "SCRAPEWATCH_REQUESTS_PARTITIONS: Input"),
        ("SCRAPEWATCH_ALLOWED_LATENESS_SECONDS", "-1", "greater than or equal to 0"),
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port", "expected host:port (e.g. localhost:9092), got"),
        ("SCRAPEWATCH_TOPIC_REQUESTS", "bad topic", "expected a Kafka topic name"),
        ("SCRAPEWATCH_TOPIC_ALERTS", "requests", "topic names must be distinct"),
        ("SCRAPEWATCH_SECURITY_PROTOCOL", "TLS", "SCRAPEWATCH_SECURITY_PROTOCOL: Input should be"),
        ("SCRAPEWATCH_LOG_LEVEL", "LOUD", "SCRAPEWATCH_LOG_LEVEL"),
        ("SCRAPEWATCH_SSL_CAFILE", "/nonexistent/ca.pem", "ssl_cafile: no such file"),
    ],
)
def test_bad_values_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="invalid scrapewatch settings") as caught:
        load_settings()
    assert expected in str(caught.value)


def test_sasl_needs_mechanism_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEWATCH_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("SCRAPEWATCH_SASL_USERNAME", "svc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "SCRAPEWATCH_SASL_MECHANISM, SCRAPEWATCH_SASL_PASSWORD" in str(caught.value)


def test_secrets_stay_secret_and_reach_the_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("not used here")
    monkeypatch.setenv("SCRAPEWATCH_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SCRAPEWATCH_SASL_MECHANISM", "scram-sha-512")
    monkeypatch.setenv("SCRAPEWATCH_SASL_USERNAME", "svc")
    monkeypatch.setenv("SCRAPEWATCH_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("SCRAPEWATCH_SSL_CAFILE", str(cafile))
    settings = load_settings()
    assert isinstance(settings.sasl_password, SecretStr)
    assert "hunter2" not in repr(settings)
    config = consumer_config(settings)
    assert config["security.protocol"] == "sasl_ssl"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("svc", "hunter2")
    assert config["ssl.ca.location"] == str(cafile)


def test_client_configs() -> None:
    settings = Settings(app_id="sw-test")
    consumer = consumer_config(settings, extra={"auto.offset.reset": "latest"})
    assert consumer["group.id"] == "sw-test"
    assert consumer["enable.auto.commit"] is False
    assert consumer["auto.offset.reset"] == "latest"
    assert int(consumer["fetch.queue.backoff.ms"]) <= 10
    producer = producer_config(settings)
    assert producer["acks"] == "all"
    assert producer["enable.idempotence"] is True
    assert producer["compression.type"] in {"lz4", "zstd"}
    assert int(producer["linger.ms"]) > 0


def test_topic_policies() -> None:
    topics = {t.name: t for t in project_topics(Settings())}
    assert set(Settings().topic_names()) <= set(topics)
    assert topics["feedback"].cleanup_policy == "compact"
    for name in ("requests", "requests.dlq", "alerts", "endpoint-stats"):
        assert topics[name].cleanup_policy == "delete"
        assert int(topics[name].config["retention.ms"]) > 0


def test_faust_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import faust

    assert faust_broker_credentials(Settings()) is None
    monkeypatch.setenv("SCRAPEWATCH_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("SCRAPEWATCH_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("SCRAPEWATCH_SASL_USERNAME", "svc")
    monkeypatch.setenv("SCRAPEWATCH_SASL_PASSWORD", "hunter2")
    credentials = faust_broker_credentials(load_settings())
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("svc", "hunter2")
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.ssl_context is None
