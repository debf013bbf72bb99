"""Run a real single-node Apache Kafka broker (KRaft) for development and tests.

Usage (with the project's Python, which has confluent-kafka)::

    python deploy/kafka/kafka_local.py fetch    # jars from Maven Central into .cache/kafka/
    python deploy/kafka/kafka_local.py up       # fetch if needed, format, start, wait ready
    python deploy/kafka/kafka_local.py status
    python deploy/kafka/kafka_local.py down
    python deploy/kafka/kafka_local.py reset    # down, then delete its data (every topic)

The port is 9092 (controller 9093) unless ``SCRAPEWATCH_LOCAL_KAFKA_PORT`` says otherwise;
each port has its own data, pid file and log under ``.cache/kafka/broker-<port>/``.
Only the standard library and confluent-kafka (for the readiness check) are used.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KAFKA_VERSION", "Broker", "main"]

KAFKA_VERSION = "4.4.0"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / ".cache" / "kafka"
LIBS = CACHE / KAFKA_VERSION / "libs"
FETCH_STAMP = CACHE / KAFKA_VERSION / "fetched.sha256"
PORT_ENV = "SCRAPEWATCH_LOCAL_KAFKA_PORT"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class LauncherError(Exception):
    """A step of the launcher failed; the message says what to do."""


def _say(message: str) -> None:
    print(f"kafka_local: {message}", flush=True)


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no {path.name} yet)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _require(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise LauncherError(
            f"`{tool}` was not found on PATH; it is needed {why}. "
            "Install Java 17+ and Maven (Debian/Ubuntu: apt-get install openjdk-17-jre-headless "
            "maven), or point the tests at an existing broker with KAFKA_BOOTSTRAP_SERVERS."
        )
    return found


def _pom_digest() -> str:
    return hashlib.sha256((HERE / "pom.xml").read_bytes()).hexdigest()


def fetch() -> bool:
    """Copy the Kafka server jars into the cache; return False when already cached."""
    if FETCH_STAMP.exists() and FETCH_STAMP.read_text().strip() == _pom_digest():
        return False
    _require("java", "to run the local Kafka broker")
    mvn = _require("mvn", "to fetch the Apache Kafka jars from Maven Central")
    _say(f"fetching Apache Kafka {KAFKA_VERSION} jars with Maven into {LIBS} ...")
    started = time.monotonic()
    if LIBS.exists():
        shutil.rmtree(LIBS)
    LIBS.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(HERE / "pom.xml"), "dependency:copy-dependencies",
        f"-DoutputDirectory={LIBS}", "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LauncherError(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    FETCH_STAMP.write_text(_pom_digest() + "\n")
    jars = len(list(LIBS.glob("*.jar")))
    _say(f"fetched {jars} jars in {time.monotonic() - started:.1f} s")
    return True


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie waiting for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in {"Z", "X"}


@dataclass(frozen=True)
class Broker:
    """The files and ports of one local broker, keyed by its port."""

    port: int

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return CACHE / f"broker-{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def stdout_file(self) -> Path:
        return self.home / "kafka.stdout"

    def pid(self) -> int | None:
        """The pid of this broker's live JVM, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if _pid_alive(pid) and b"kafka.Kafka" in cmdline and str(self.home).encode() in cmdline:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def metadata(self, timeout: float) -> tuple[int, int] | None:
        """Ask the broker for metadata: (brokers, topics), or None when it does not answer."""
        try:  # `down` and `fetch` work without it
            from confluent_kafka.admin import AdminClient
        except ImportError:
            raise LauncherError(
                "confluent-kafka is not installed in this Python: run `make install`, then "
                "use .venv/bin/python (or `make kafka-up` / `make kafka-status`)"
            ) from None

        if not self.port_open():
            return None
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            meta = admin.list_topics(timeout=timeout)
        except Exception:  # any failure here only means "not ready yet"
            return None
        if not meta.brokers:
            return None
        return len(meta.brokers), len(meta.topics)

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return ["java", "-cp", f"{LIBS}/*", main, *args]

    def render(self) -> None:
        template = string.Template((HERE / "server.properties").read_text())
        text = template.substitute(
            port=self.port, controller_port=self.controller_port, data_dir=self.data_dir
        )
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(text)

    def format_storage(self) -> bool:
        """Format the KRaft log directory once; return False when already formatted."""
        if (self.data_dir / "meta.properties").exists():
            return False
        uuid = subprocess.run(
            self._java_cmd("kafka.tools.StorageTool", "random-uuid"),
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        result = subprocess.run(
            self._java_cmd("kafka.tools.StorageTool", "format", "-t", uuid,
                           "-c", str(self.properties)),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise LauncherError(f"formatting {self.data_dir} failed:\n{result.stderr[-3000:]}")
        return True

    def start(self) -> int:
        cmd = [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            f"-Dscrapewatch.kafka.log={self.log_file}",
            "-cp", f"{LIBS}/*", "kafka.Kafka", str(self.properties),
        ]  # fmt: skip
        with self.stdout_file.open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.home, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """SIGTERM the broker, SIGKILL it after ``timeout``; False when none was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            _say(f"broker pid {pid} ignored SIGTERM for {timeout:.0f} s; sending SIGKILL")
            _signal_group(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The broker leads its own session (start_new_session), so its group id is its pid.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _bindable(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def up(broker: Broker, timeout: float = READY_TIMEOUT_S) -> None:
    """Start the broker unless it already runs, and wait until it answers metadata."""
    started = time.monotonic()
    pid = broker.pid()
    if pid is not None:
        _say(f"already running (pid {pid}) at {broker.bootstrap}; nothing to do")
        return
    if broker.port_open():
        raise LauncherError(
            f"port {broker.port} is taken by another process (not this checkout's broker). "
            f"Use it via KAFKA_BOOTSTRAP_SERVERS if it is a Kafka broker, or pick another "
            f"port with {PORT_ENV}=<port>."
        )
    if not _bindable(broker.controller_port):
        raise LauncherError(
            f"the controller port {broker.controller_port} (broker port + 1) is in use; "
            f"pick another port with {PORT_ENV}=<port>."
        )
    _require("java", "to run the local Kafka broker")
    fetch()
    broker.render()
    if broker.format_storage():
        _say(f"formatted KRaft storage in {broker.data_dir}")
    pid = broker.start()
    _say(f"starting Apache Kafka {KAFKA_VERSION} (pid {pid}), log: {broker.log_file}")
    deadline = started + timeout
    next_report = time.monotonic() + 5.0
    while True:
        if not _pid_alive(pid):
            broker.pid_file.unlink(missing_ok=True)
            raise LauncherError(
                f"the broker exited during start-up.\n--- {broker.stdout_file}\n"
                f"{_tail(broker.stdout_file)}\n--- {broker.log_file}\n{_tail(broker.log_file)}"
            )
        if broker.metadata(timeout=1.0) is not None:
            break
        now = time.monotonic()
        if now >= deadline:
            broker.stop(timeout=10.0)
            raise LauncherError(
                f"no metadata answer from {broker.bootstrap} within {timeout:.0f} s; "
                f"broker stopped.\n--- {broker.log_file}\n{_tail(broker.log_file)}\n"
                f"{_data_hint(broker)}"
            )
        if now >= next_report:
            _say(f"waiting for the broker to answer metadata ... {now - started:.0f} s")
            next_report = now + 5.0
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    _say(f"ready at {broker.bootstrap} (pid {pid}) in {elapsed:.1f} s")


def _data_hint(broker: Broker) -> str:
    """What the data directory holds, and how to start empty (a broker loads every
    partition it holds before it answers: thousands of leftover topics take minutes)."""
    data = broker.data_dir
    partitions = sum(1 for p in data.iterdir() if p.is_dir()) if data.is_dir() else 0
    return (
        f"{broker.data_dir} holds {partitions} partition directories; wait longer with "
        f"--timeout, or start from empty storage with `{Path(sys.argv[0]).name} reset` "
        f"(deletes every topic of this local broker)"
    )


def reset(broker: Broker) -> None:
    """Stop the broker and delete its storage: the next ``up`` formats it anew."""
    down(broker)
    if broker.data_dir.exists():
        shutil.rmtree(broker.data_dir)
        _say(f"deleted {broker.data_dir}; the next `up` starts with no topics")
    else:
        _say(f"{broker.data_dir} does not exist; nothing to delete")


def down(broker: Broker) -> None:
    """Stop the broker and wait until its JVM is gone."""
    started = time.monotonic()
    if broker.stop():
        _say(f"stopped the broker at {broker.bootstrap} in {time.monotonic() - started:.1f} s")
    else:
        _say(f"no broker of this checkout runs on port {broker.port}")


def status(broker: Broker) -> int:
    """Print whether the broker runs and answers; exit code 0 only when it does."""
    pid = broker.pid()
    if pid is None:
        _say(f"not running (port {broker.port})")
        return 1
    answer = broker.metadata(timeout=3.0)
    if answer is None:
        _say(f"running (pid {pid}) but {broker.bootstrap} does not answer metadata yet")
        return 1
    brokers, topics = answer
    _say(f"running (pid {pid}) at {broker.bootstrap}: {brokers} broker, {topics} topics")
    return 0


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise launcher runs of one checkout (two test sessions may call ``up`` at once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_from_env() -> int:
    raw = os.environ.get(PORT_ENV, "9092")
    try:
        port = int(raw)
    except ValueError:
        raise LauncherError(f"{PORT_ENV} must be a port number, got {raw!r}") from None
    if not 1024 <= port <= 65534:
        raise LauncherError(f"{PORT_ENV} must be between 1024 and 65534, got {port}")
    return port


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "up", "down", "status", "reset"])
    parser.add_argument("--timeout", type=float, default=READY_TIMEOUT_S, help="up: wait (s)")
    args = parser.parse_args(argv)
    try:
        broker = Broker(_port_from_env())
        if args.command == "status":
            return status(broker)
        with _locked(f"broker-{broker.port}"):
            if args.command == "fetch":
                if not fetch():
                    _say(f"Apache Kafka {KAFKA_VERSION} jars already cached in {LIBS}")
            elif args.command == "up":
                up(broker, timeout=args.timeout)
            elif args.command == "reset":
                reset(broker)
            else:
                down(broker)
        return 0
    except LauncherError as exc:
        print(f"kafka_local: error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
