"""One worker process: the ingest bridge, the Faust agents, and the HTTP endpoint.

Several workers with the same ``SCRAPEWATCH_APP_ID`` form one consumer group and share the
partitions. SIGTERM / SIGINT stop the worker gracefully: the bridge commits what was
delivered, Faust commits acknowledged offsets, and the process exits within seconds.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
import mode
from confluent_kafka import Producer

from detectors.config import DetectionConfig
from stream.agents import Agents, Topology
from stream.app import create_app
from stream.bridge import Bridge
from stream.httpserver import HttpServer
from stream.kafka.admin import create_topics, new_admin
from stream.kafka.config import consumer_config, producer_config
from stream.metrics import create as create_metrics
from stream.process import tune_gc, tune_threads
from stream.refetch import RangeReader
from stream.settings import Settings
from stream.state import MAX_STATE_BYTES, ChangelogWriter
from stream.topics import batches_topic, project_topics

__all__ = ["detection_config", "run_worker"]

log = logging.getLogger(__name__)


def detection_config(settings: Settings) -> DetectionConfig:
    """The detectors' configuration from the service settings."""
    return DetectionConfig(
        window=float(settings.window_seconds),
        lateness=float(settings.allowed_lateness_seconds),
        idle_timeout=float(settings.idle_close_seconds),
    )


class BridgeService(mode.Service):
    """Runs the ingest bridge thread for as long as the Faust worker runs."""

    def __init__(self, bridge: Bridge, **kwargs: Any) -> None:
        self.bridge = bridge
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.bridge.start()

    async def on_stop(self) -> None:
        self.bridge.stop()

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            if not self.bridge.alive and self.bridge.error is not None:
                log.error("ingest bridge failed: %s; stopping the worker", self.bridge.error)
                self._crash_reason = self.bridge.error
                await self.crash(self.bridge.error)  # mode: stops the worker, exit code 1
                return
            await self.sleep(1.0)


def run_worker(settings: Settings) -> None:
    """Run one worker until SIGTERM / SIGINT."""
    logging.basicConfig(level=settings.log_level)
    tune_gc()
    tune_threads()
    config = detection_config(settings)
    create_topics(new_admin(settings), project_topics(settings), settings.bootstrap_servers)
    metrics = create_metrics(known_routes=config.known_routes)
    metrics.set_model(config.model_version)
    app = create_app(settings)
    topology = Topology(
        batches=batches_topic(settings),
        endpoint_stats=settings.topic_endpoint_stats,
        alerts=settings.topic_alerts,
        partitions=settings.requests_partitions,
    )
    big = {"linger.ms": 20, "message.max.bytes": MAX_STATE_BYTES + 65536}
    writer = ChangelogWriter(Producer(producer_config(settings, big)))
    reader = RangeReader(consumer_config(settings, group_id=f"{settings.app_id}-refetch"))
    agents = Agents.install(app, topology, config, metrics, writer, read=reader.read)
    bridge = Bridge(
        consumer_config=consumer_config(settings, group_id=f"{settings.app_id}-ingest"),
        producer_config=producer_config(settings),
        requests_topic=settings.topic_requests,
        batches_topic=topology.batches,
        dlq_topic=settings.topic_requests_dlq,
        metrics=metrics,
    )

    def ready() -> bool:
        ok = agents.ready() and bridge.alive
        metrics.ready.set(1 if ok else 0)
        return ok

    http = HttpServer(metrics.registry, settings.metrics_host, settings.metrics_port, ready)
    http.start()
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, http.port)
    worker = faust.Worker(
        app, BridgeService(bridge), loglevel=settings.log_level, redirect_stdouts=False
    )
    try:
        worker.execute_from_commandline()
    finally:
        http.stop()
