"""The one ``Settings`` object: every tunable of the service, read from the environment.

Each field is read from ``SCRAPEWATCH_<FIELD>`` (case-insensitive); the bootstrap servers
also from plain ``KAFKA_BOOTSTRAP_SERVERS``. Nothing else in scrapewatch reads
``os.environ`` for these values: code receives a ``Settings`` (or values taken from it).

>>> Settings(window_seconds=30).window_seconds
30
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "child_env", "load_settings"]

ENV_PREFIX = "SCRAPEWATCH_"

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_HOST_PORT = re.compile(r"^\[?[A-Za-z0-9._:-]+\]?:\d{1,5}$")

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(ConfigError):
    """The environment holds a value scrapewatch cannot use; the message names each one."""


class Settings(BaseSettings):
    """Configuration of scrapewatch; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    # Kafka connection
    bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices(f"{ENV_PREFIX}BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated host:port list of Kafka brokers.",
    )
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None

    # Topics
    topic_requests: str = "requests"
    topic_requests_dlq: str = "requests.dlq"
    topic_alerts: str = "alerts"
    topic_endpoint_stats: str = "endpoint-stats"
    topic_feedback: str = "feedback"
    requests_partitions: int = Field(default=6, gt=0, le=10_000)
    replication_factor: int = Field(default=1, gt=0, le=32)

    # Stream processing
    app_id: str = Field(default="scrapewatch", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    window_seconds: int = Field(default=60, gt=0, le=86_400)
    allowed_lateness_seconds: int = Field(default=10, ge=0, le=86_400)
    idle_close_seconds: int = Field(default=10, gt=0, le=86_400)

    # Operations
    metrics_host: str = Field(default="0.0.0.0", min_length=1)  # all interfaces: a service
    metrics_port: int = Field(default=9102, ge=1, le=65_535)
    log_level: LogLevel = "INFO"

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers:
            raise ValueError("expected at least one host:port, got an empty value")
        for server in servers:
            if not _HOST_PORT.match(server) or not 0 < int(server.rsplit(":", 1)[1]) < 65_536:
                raise ValueError(f"expected host:port (e.g. localhost:9092), got {server!r}")
        return ",".join(servers)

    @field_validator(
        "topic_requests",
        "topic_requests_dlq",
        "topic_alerts",
        "topic_endpoint_stats",
        "topic_feedback",
    )
    @classmethod
    def _check_topic(cls, value: str) -> str:
        if not _TOPIC_NAME.match(value) or value in {".", ".."}:
            raise ValueError(
                "expected a Kafka topic name: 1-249 characters of letters, digits, '.', '_' "
                f"or '-', got {value!r}"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper_enum(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        topics = self.topic_names()
        if len(set(topics)) != len(topics):
            raise ValueError(f"topic names must be distinct, got {sorted(topics)}")
        if self.security_protocol.startswith("SASL_"):
            missing = [
                name
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"security_protocol={self.security_protocol} needs "
                    + ", ".join(f"{ENV_PREFIX}{name.upper()}" for name in missing)
                )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file {str(path)!r}")
        return self

    def topic_names(self) -> list[str]:
        """The five project topic names, in a fixed order."""
        return [
            self.topic_requests,
            self.topic_requests_dlq,
            self.topic_alerts,
            self.topic_endpoint_stats,
            self.topic_feedback,
        ]


def load_settings(**overrides: Any) -> Settings:
    """Read ``Settings`` from the environment, raising ``SettingsError`` with one line per bad
    value (the environment variable, what was expected and what came)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            env = f"{ENV_PREFIX}{field.upper()}" if field in Settings.model_fields else field
            if field == "bootstrap_servers":
                env += " (or KAFKA_BOOTSTRAP_SERVERS)"
            message = error["msg"].removeprefix("Value error, ")
            shown = field in Settings.model_fields and "password" not in field
            got = f" (got {error['input']!r})" if shown and "got " not in message else ""
            lines.append(f"{env}: {message}{got}")
        raise SettingsError("invalid scrapewatch settings:\n  " + "\n  ".join(lines)) from None


def child_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that makes a child process (a worker) read exactly ``settings``.

    ``base`` (default: this process's environment) is kept, less its scrapewatch variables.
    """
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(ENV_PREFIX) and k != "KAFKA_BOOTSTRAP_SERVERS"
    }
    for name, value in settings.model_dump().items():
        if value is not None:
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"{ENV_PREFIX}{name.upper()}"] = str(secret)
    return env
