"""The one place that turns ``Settings`` into Kafka client configuration.

confluent-kafka (librdkafka) clients take flat dicts; faust (aiokafka) takes a broker URL
and a credentials object. Both get the same servers, security protocol and secrets.

>>> from stream.settings import Settings
>>> producer_config(Settings(bootstrap_servers="k1:9092"))["acks"]
'all'
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from stream.settings import Settings

if TYPE_CHECKING:
    import faust

__all__ = [
    "ClientConfig",
    "admin_config",
    "consumer_config",
    "faust_broker_credentials",
    "faust_broker_url",
    "producer_config",
]

# librdkafka property names to values (callbacks such as ``error_cb`` are values too).
ClientConfig = dict[str, Any]

# librdkafka waits this long before refilling an empty fetch queue; its default (1000 ms)
# stalls a fast consumer to a fraction of its speed (PERFORMANCE.md: 5-10 ms gave 3-4x).
FETCH_QUEUE_BACKOFF_MS = 5


def _common(settings: Settings, client_id: str) -> ClientConfig:
    config: ClientConfig = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": client_id,
        "security.protocol": settings.security_protocol.lower(),
    }
    if settings.sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.sasl_mechanism
    if settings.sasl_username is not None:
        config["sasl.username"] = settings.sasl_username
    if settings.sasl_password is not None:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile is not None:
        config["ssl.ca.location"] = str(settings.ssl_cafile)
    if settings.ssl_certfile is not None:
        config["ssl.certificate.location"] = str(settings.ssl_certfile)
    if settings.ssl_keyfile is not None:
        config["ssl.key.location"] = str(settings.ssl_keyfile)
    if settings.ssl_key_password is not None:
        config["ssl.key.password"] = settings.ssl_key_password.get_secret_value()
    return config


def consumer_config(
    settings: Settings, group_id: str | None = None, extra: Mapping[str, Any] | None = None
) -> ClientConfig:
    """A batch-friendly consumer: manual commits, from the earliest offset, short backoff.

    ``group_id`` defaults to the app id; ``extra`` (librdkafka names) overrides anything.
    """
    config = _common(settings, f"{settings.app_id}-consumer")
    config.update(
        {
            "group.id": group_id or settings.app_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
            "fetch.wait.max.ms": 100,
            "fetch.min.bytes": 1,
            "queued.min.messages": 10_000,
            "queued.max.messages.kbytes": 65_536,
            "enable.partition.eof": False,
        }
    )
    config.update(extra or {})
    return config


def producer_config(settings: Settings, extra: Mapping[str, Any] | None = None) -> ClientConfig:
    """A durable, batching producer: acks from all replicas, idempotent, lz4, 5 ms linger."""
    config = _common(settings, f"{settings.app_id}-producer")
    config.update(
        {
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
            "batch.num.messages": 10_000,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 262_144,
        }
    )
    config.update(extra or {})
    return config


def admin_config(settings: Settings, extra: Mapping[str, Any] | None = None) -> ClientConfig:
    """Configuration of an ``AdminClient``."""
    config = _common(settings, f"{settings.app_id}-admin")
    config.update(extra or {})
    return config


def faust_broker_url(settings: Settings) -> str:
    """The faust ``broker`` URL, e.g. ``kafka://k1:9092;k2:9092``."""
    return "kafka://" + ";".join(settings.bootstrap_servers.split(","))


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    password = settings.ssl_key_password
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.ssl_cafile,
        certfile=settings.ssl_certfile,
        keyfile=settings.ssl_keyfile,
        password=password.get_secret_value() if password is not None else None,
    )
    return context


def faust_broker_credentials(settings: Settings) -> faust.auth.Credentials | None:
    """faust ``broker_credentials`` for SASL and/or SSL, or None for PLAINTEXT."""
    import faust  # only the services that run faust pay for importing it

    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings) if protocol in {"SSL", "SASL_SSL"} else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password.get_secret_value() if password is not None else None,
        ssl_context=context,
        mechanism=settings.sasl_mechanism,
    )
