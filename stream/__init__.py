"""The scrapewatch service: settings, codec, Kafka, Faust app, metrics, CLI."""

from __future__ import annotations

from detectors import compiled as _compiled

__version__ = "0.1.0"

# before any hot-path module is imported (see detectors/compiled.py)
_compiled.install()

__all__ = ["__version__"]
