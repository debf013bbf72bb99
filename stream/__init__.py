"""The scrapewatch service: settings, codec, Kafka, Faust app, metrics, CLI."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
