"""Worker processes for end-to-end tests: ``worker_factory`` starts ``scrapewatch worker``.

Each worker is a real subprocess on the session's real broker, with its own topics and
consumer groups (from ``settings_factory``) and its own metrics port; it is stopped
(SIGTERM, then SIGKILL) after the test, and its log is printed when a test fails.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stream.kafka.admin import create_topics, new_admin
from stream.probe import free_port
from stream.settings import Settings, child_env
from stream.topics import project_topics


class WorkerProcess:
    """A running ``scrapewatch worker`` and what a test asks of it."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.port = settings.metrics_port
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "worker"],
            env=child_env(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"worker not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0.0 when absent)."""
        _status, text = self.get("/metrics")
        want = name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
        )
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if _same_sample(key, want):
                total += float(value)
        return total

    def wait_metric(
        self, name: str, at_least: float, timeout: float = 120.0, **labels: str
    ) -> float:
        deadline = time.monotonic() + timeout
        value = 0.0
        while time.monotonic() < deadline:
            value = self.metric(name, **labels)
            if value >= at_least:
                return value
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            time.sleep(0.5)
        pytest.fail(f"{name}{labels} is {value}, expected >= {at_least}:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 60) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _same_sample(key: str, want: str) -> bool:
    if "{" not in want:
        return key == want or key.startswith(want + "{")
    name, _, labels = want.partition("{")
    if not key.startswith(name + "{"):
        return False
    have = set(key[len(name) + 1 : -1].split(","))
    return set(labels[:-1].split(",")) <= have


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(
    tmp_path: Path, request: pytest.FixtureRequest, settings_factory: Any
) -> Iterator[WorkerFactory]:
    """Returns ``make(settings, ready=True) -> WorkerProcess``; the topics are created first.

    (It depends on ``settings_factory`` so that its workers stop before that fixture
    deletes their topics.)"""
    workers: list[WorkerProcess] = []

    def make(settings: Settings, ready: bool = True, **overrides: Any) -> WorkerProcess:
        if not workers or overrides.get("create_topics", True):
            create_topics(new_admin(settings), project_topics(settings), settings.bootstrap_servers)
        settings = settings.model_copy(update={"metrics_port": free_port()})
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield make
    failed = getattr(request.node, "rep_call", None)
    for worker in workers:
        worker.stop()
        if failed is not None and failed.failed:
            sys.stderr.write(f"--- {worker.log_path} ---\n{worker.log_tail(120)}\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
