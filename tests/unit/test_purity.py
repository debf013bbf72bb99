"""``detectors`` is pure: importing every module of it loads no Kafka, Faust or Prometheus."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("kafka", "faust", "mode", "prometheus_client", "confluent_kafka", "aiokafka")

PROBE = """
import importlib, pkgutil, sys
import detectors
for m in pkgutil.iter_modules(detectors.__path__):
    importlib.import_module(f"detectors.{m.name}")
print("\\n".join(sorted(sys.modules)))
"""


def test_importing_detectors_loads_no_streaming_module() -> None:
    # a fresh interpreter: this test process may already have imported stream
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = done.stdout.split()
    assert "detectors.engine" in loaded and "detectors.stages" in loaded
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN or m.startswith("stream")]
    assert bad == []
