"""``scrapewatch bench``: one worker against the physical limit, on the same topic, in one run.

1. produce N simulator events (one JSON event per message) into a fresh topic with P
   partitions, then one *closing* event per partition far enough ahead in event time that
   every window of the N events closes by watermark;
2. **raw**: a confluent-kafka consumer doing ``consume(1000)`` + orjson decode over that
   topic: the practical limit of Python on this machine. One pass before the pipeline
   runs and one after each; a run's ratio is to the mean of the passes just before and
   after it (a shared host's speed drifts within the minute: bracketing moves both sides
   of the ratio alike);
3. **pipeline**: ``scrapewatch worker`` processes (1, and optionally more) until every event
   is processed and every window of them closed and scored;
4. **latency** (``stream.benchlatency``) and **memory** (``stream.benchmemory``) are the
   other two modes; the command prints a table and one JSON object (rates, ratio, peak
   RSS, speed-up, machine).

How a pipeline run is timed
---------------------------
``seconds`` / ``events_per_second`` run from the moment the first worker is ready to the
last change of the processed count (every window closed): with one worker that is "from
its first event to every window closed and scored".

With several workers that figure also holds the second worker joining, the rebalance and
the at-least-once re-delivery of batches whose windows were open. The scale-out figure
(``steady_events_per_second``) therefore starts at the *steady point*: every worker's
``/readyz`` is true (Faust's group rebalanced, tables recovered, bridge alive) and both
consumer groups (the ingest bridge's ``<app_id>-ingest`` and Faust's ``<app_id>``) are
``Stable`` with one member per worker, each holding partitions, on two checks in a row.
The processed counter is sampled there (``steady_start_processed``) and the rate is
``(events - steady_start_processed) / (end - steady point)``: every event counts once
(events re-delivered after the steady point cost time but add nothing), so the figure is
never flattered by re-delivery. One worker is measured the same way, and the speed-up is
the ratio of the steady rates. Each run also gives the workers' CPU time per event
(``events_per_worker_cpu_second``: flat across worker counts means the work scales with
cores) and how many cores the whole machine was busy (``machine_busy_cores``: near the
core count means the machine, broker and bench included, was the limit).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from detectors.compiled import compiled_status
from detectors.partitioning import partition_for
from detectors.simulator import SimConfig, Simulation
from stream.codec import loads
from stream.errors import ScrapewatchError
from stream.feed import send_events
from stream.kafka.admin import create_topics, new_admin
from stream.kafka.config import consumer_config, producer_config
from stream.probe import free_port, metric, ready
from stream.settings import Settings, child_env
from stream.topics import batches_topic, project_topics

__all__ = [
    "KAFKA_VERSION",
    "BenchError",
    "Workers",
    "closers",
    "fresh_run",
    "machine",
    "run_bench",
    "table",
]

Echo = Callable[[str], None]
KAFKA_VERSION = "4.4.0"
PROCESSED = 'scrapewatch_events_total{result="processed"}'


class BenchError(ScrapewatchError):
    """A benchmark run could not complete (a worker died or never became ready)."""


# -- shared by the three modes ---------------------------------------------------------------


@contextlib.contextmanager
def fresh_run(base: Settings, kind: str, **updates: Any) -> Iterator[Settings]:
    """``base`` with a fresh app id and fresh topics (``bench-<kind>-<time>-<rand>.*``);
    every topic of the run (the workers' internal ones too) is deleted afterwards."""
    run = f"bench-{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    values: dict[str, Any] = {
        "app_id": run,
        "topic_requests": f"{run}.requests",
        "topic_requests_dlq": f"{run}.requests.dlq",
        "topic_alerts": f"{run}.alerts",
        "topic_endpoint_stats": f"{run}.endpoint-stats",
        "topic_feedback": f"{run}.feedback",
    }
    values.update(updates)
    settings = base.model_copy(update=values)
    admin = new_admin(settings, quiet=True)
    create_topics(admin, project_topics(settings), settings.bootstrap_servers)
    try:
        yield settings
    finally:
        with contextlib.suppress(KafkaException):
            names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(run)]
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(KafkaException):
                    future.result()


def _proc_status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` size field (``VmRSS``, ``VmHWM``) in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(stat: str) -> float:
    """User + system CPU seconds of a ``/proc/<pid>/stat`` file; 0.0 if unreadable."""
    try:
        with open(stat) as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine was busy (every process, every core) since boot."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Workers:
    """``count`` ``scrapewatch worker`` processes of one app, stopped when the block ends
    (normally, on an error or on Ctrl-C). Logs go to ``/tmp/<app_id>-<i>.log``."""

    def __init__(self, settings: Settings, count: int = 1) -> None:
        self.settings = settings
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.logs = f"/tmp/{settings.app_id}-*.log"

    def __enter__(self) -> Workers:
        try:
            for i in range(self.count):
                port = free_port()
                env = child_env(self.settings.model_copy(update={"metrics_port": port}))
                env["SCRAPEWATCH_LOG_LEVEL"] = "WARNING"
                with open(f"/tmp/{self.settings.app_id}-{i}.log", "wb") as log:
                    self.procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "stream.cli", "worker"],
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                        )
                    )
                self.ports.append(port)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM every worker, wait for it (20 s), then SIGKILL what is left."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        try:
            for proc in self.procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        except BaseException:  # a second Ctrl-C while waiting: do not wait, kill
            for proc in self.procs:
                if proc.poll() is None:
                    proc.kill()
            raise

    def check(self) -> None:
        """Raise :class:`BenchError` if a worker has exited."""
        if any(proc.poll() is not None for proc in self.procs):
            raise BenchError(f"a bench worker died; see {self.logs}")

    def ready(self) -> list[bool]:
        """Each worker's ``/readyz``."""
        return [ready(port) for port in self.ports]

    def wait_ready(self, every: bool = True, timeout: float = 120.0) -> None:
        """Wait until every (or, with ``every=False``, some) worker's ``/readyz`` is true."""
        deadline = time.monotonic() + timeout
        while not (all if every else any)(self.ready()):
            self.check()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"bench worker(s) not ready after {timeout:.0f} s; see {self.logs}"
                )
            time.sleep(0.05)

    def metric(self, sample: str) -> float:
        """``sample`` summed over the workers' ``/metrics``."""
        return sum(metric(port, sample) for port in self.ports)

    def rss(self) -> int:
        """Resident memory now, summed over the workers (bytes)."""
        return sum(_proc_status(proc.pid, "VmRSS") for proc in self.procs)

    def peak_rss(self) -> int:
        """The largest peak resident memory of one worker (bytes)."""
        return max((_proc_status(proc.pid, "VmHWM") for proc in self.procs), default=0)

    def cpu_seconds(self) -> float:
        """CPU time used so far (user + system), summed over the workers."""
        return sum(_cpu_seconds(f"/proc/{proc.pid}/stat") for proc in self.procs)


def closers(partitions: int, ts: float) -> list[dict[str, Any]]:
    """One event per partition at ``ts``: moves every partition's watermark to ``ts``."""
    out: list[dict[str, Any]] = []
    p_seen: set[int] = set()
    for i in itertools.count():
        if len(p_seen) == partitions:
            break
        key = f"bench-closer-{i}"
        p = partition_for(key, partitions)
        if p not in p_seen:
            p_seen.add(p)
            out.append(
                {
                    "ts": ts,
                    "client_ip": f"192.0.2.{i % 250}",
                    "method": "GET",
                    "path": "/health",
                    "status": 200,
                    "account": key,
                }
            )
    return out


def machine() -> dict[str, Any]:
    """Where the figures were measured, and whether the hot path ran compiled."""
    status = compiled_status()
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka": KAFKA_VERSION,
        # the workers inherit this process's environment and files: the same modules
        "compiled_modules": sum(status.values()),
        "hot_path_modules": len(status),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line saying where the run was and what ran (compiled or pure Python)."""
    done, total = info["compiled_modules"], info["hot_path_modules"]
    how = "compiled" if done == total else f"{done}/{total} modules compiled"
    if done == 0:
        how = "pure Python"
    return (
        f"machine: {info['cores']} cores, Python {info['python']}, Kafka {info['kafka']}; "
        f"hot path {how}"
    )


# -- throughput: raw, pipeline, scale-out ------------------------------------------------------


def _events(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` events of the simulator's mix (benign traffic plus every scenario); about
    100,000 an hour, so that many hours and a margin (6 h per 700,000 fell short)."""
    hours = max(0.25, n / 80_000)
    yield from itertools.islice(Simulation(SimConfig(seed=seed, hours=hours)).events(), n)


def _raw(settings: Settings, topic: str, total: int) -> tuple[float, int]:
    consumer = Consumer(consumer_config(settings, group_id=f"bench-raw-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    n, started = 0, None
    deadline = time.monotonic() + 600
    try:
        while n < total and time.monotonic() < deadline:
            msgs = consumer.consume(1000, 1.0)
            if msgs and started is None:
                started = time.perf_counter()
            for m in msgs:
                if m.error() is None:
                    loads(m.value() or b"null")
                    n += 1
    finally:
        consumer.close()
    return time.perf_counter() - (started or time.perf_counter()), n


def _raw_pass(settings: Settings, total: int, echo: Echo) -> dict[str, Any]:
    """One raw pass over the topic (a fresh consumer group: from the first message)."""
    cpu = time.process_time()  # this process: the Python loop and librdkafka's threads
    seconds, n = _raw(settings, settings.topic_requests, total)
    cpu = time.process_time() - cpu
    rate = n / seconds if seconds else 0.0
    echo(
        f"bench: raw consume + orjson: {n:,} in {seconds:.2f} s = {rate:,.0f} events/s"
        f" ({n / cpu if cpu else 0.0:,.0f} per CPU second)"
    )
    return {
        "seconds": seconds,
        "events": n,
        "events_per_second": rate,
        "cpu_seconds": cpu,
        "events_per_cpu_second": n / cpu if cpu else 0.0,
    }


def _groups_stable(admin: AdminClient, groups: dict[str, str], members: int) -> bool:
    """Whether every consumer group (id -> its input topic) is ``Stable`` with ``members``
    members, each assigned partitions of that topic."""
    try:
        for gid, future in admin.describe_consumer_groups(list(groups)).items():
            desc = future.result()
            if desc.state != ConsumerGroupState.STABLE or len(desc.members) != members:
                return False
            for member in desc.members:
                tps = member.assignment.topic_partitions if member.assignment else []
                if not any(tp.topic == groups[gid] for tp in tps):
                    return False
    except KafkaException:
        return False
    return True


def _pipeline(settings: Settings, workers: int, total: int, echo: Echo) -> dict[str, Any]:
    run = settings.model_copy(update={"app_id": f"{settings.app_id}-w{workers}"})
    admin = new_admin(run, quiet=True)
    groups = {f"{run.app_id}-ingest": run.topic_requests, run.app_id: batches_topic(run)}
    with Workers(run, workers) as procs:
        procs.wait_ready(every=False)
        started = time.perf_counter()
        cpu0, busy0 = procs.cpu_seconds(), machine_busy_seconds()
        done, last_change, last_done = 0.0, started, -1.0
        steady_at: float | None = None
        steady_done, stable_checks, unsteady = 0.0, 0, False
        deadline = time.monotonic() + 1800
        last_report = time.monotonic()
        # Finished when every event was processed, nothing is left to read, and the count
        # has stood still for a second. With several workers a rebalance re-delivers
        # batches whose windows were open (at-least-once), so "processed" may pass the
        # total before the work is done: hence the lag and stillness conditions.
        while time.monotonic() < deadline:
            time.sleep(0.25)  # each scrape costs the worker a little: do not overdo it
            procs.check()
            if steady_at is None:
                ok = all(procs.ready()) and _groups_stable(admin, groups, workers)
                stable_checks = stable_checks + 1 if ok else 0
                if stable_checks >= 2:
                    steady_at, steady_done = time.perf_counter(), procs.metric(PROCESSED)
            elif not unsteady and not all(procs.ready()):
                unsteady = True  # a rebalance after the steady point: reported, not hidden
            done = procs.metric(PROCESSED)
            now = time.perf_counter()
            if done != last_done:
                last_done, last_change = done, now
                continue
            lag = procs.metric("scrapewatch_consumer_lag_messages")
            if done >= total and lag == 0 and now - last_change >= 1.0:
                break
            if time.monotonic() - last_report > 10:
                echo(f"  ... {workers} worker(s): {done:,.0f} of {total:,} events")
                last_report = time.monotonic()
        else:
            raise BenchError(f"{workers} worker(s) did not finish in 30 minutes")
        cpu = procs.cpu_seconds() - cpu0
        busy = machine_busy_seconds() - busy0
        wall = time.perf_counter() - started
        elapsed = last_change - started
        steady_s = last_change - steady_at if steady_at is not None else 0.0
        steady_events = max(0.0, total - steady_done) if steady_at is not None else 0.0
        return {
            "workers": workers,
            "seconds": elapsed,
            "events": float(total),
            "events_processed_incl_redelivered": done,
            "redelivered": max(0.0, done - total),
            "events_per_second": total / elapsed if elapsed else 0.0,
            "steady_seconds": steady_s,
            "steady_start_processed": steady_done,
            "steady_events_per_second": steady_events / steady_s if steady_s > 0 else None,
            "rebalanced_after_steady": unsteady,
            "windows_closed": procs.metric('scrapewatch_windows_closed_total{stage="account"}'),
            "late_events": procs.metric('scrapewatch_events_total{result="late"}'),
            "alerts": procs.metric("scrapewatch_alerts_total"),
            "peak_rss_bytes": procs.peak_rss(),
            # how much CPU the work cost, whatever the machine's other load: flat across
            # worker counts means the design scales with cores; machine_busy_cores near the
            # core count means the machine (broker and bench included) was the limit
            "worker_cpu_seconds": cpu,
            "events_per_worker_cpu_second": total / cpu if cpu > 0 else None,
            "machine_busy_cores": busy / wall if wall > 0 else None,
        }


def run_bench(
    base: Settings, *, events: int, partitions: int, workers: list[int], seed: int, echo: Echo
) -> dict[str, Any]:
    """Raw consumption, then the pipeline with each worker count, on one fresh topic."""
    with fresh_run(base, "tp", requests_partitions=partitions) as settings:
        return _throughput(settings, events, partitions, workers, seed, echo)


def _throughput(  # noqa: PLR0917  (private: one call site)
    settings: Settings, events: int, partitions: int, workers: list[int], seed: int, echo: Echo
) -> dict[str, Any]:
    echo(
        f"bench: producing {events:,} events to {settings.topic_requests} ({partitions} partitions)"
    )
    t0 = time.perf_counter()
    stats = send_events(producer_config(settings), settings.topic_requests, _events(events, seed))
    last_ts = stats.last_ts or 0.0
    send_events(
        producer_config(settings), settings.topic_requests, closers(partitions, last_ts + 3600)
    )
    total = stats.sent + partitions
    echo(f"bench: produced {total:,} messages in {time.perf_counter() - t0:.1f} s")

    # raw consumption before the pipeline runs and again after each: a pipeline run is
    # compared with the mean of the two raw passes around it, so a host that speeds up or
    # slows down within the minute moves both sides of the ratio alike
    passes = [_raw_pass(settings, total, echo)]
    runs = []
    for w in workers:
        result = _pipeline(settings, w, total, echo)
        steady = result["steady_events_per_second"]
        echo(
            f"bench: pipeline with {w} worker(s): {result['events']:,.0f} in "
            f"{result['seconds']:.2f} s = {result['events_per_second']:,.0f} events/s"
            + (f"; steady {steady:,.0f} events/s" if steady else "")
        )
        passes.append(_raw_pass(settings, total, echo))
        around = (passes[-2]["events_per_second"] + passes[-1]["events_per_second"]) / 2
        result["raw_events_per_second_around"] = around
        result["ratio_to_raw"] = result["events_per_second"] / around if around else 0.0
        runs.append(result)
    raw_s = sum(p["seconds"] for p in passes)
    raw_n = sum(p["events"] for p in passes)
    raw_cpu = sum(p["cpu_seconds"] for p in passes)
    report: dict[str, Any] = {
        "events": total,
        "partitions": partitions,
        "raw": {
            "seconds": raw_s / len(passes),
            "events_per_second": raw_n / raw_s if raw_s else 0.0,
            "events_per_cpu_second": raw_n / raw_cpu if raw_cpu else 0.0,
            "passes": passes,
        },
        "pipeline": runs,
        "ratio_pipeline_to_raw": runs[0]["ratio_to_raw"] if runs else 0.0,
        # the same comparison in CPU time: one worker's events per CPU second (all its
        # threads) against the raw consumer's
        "cpu_ratio_pipeline_to_raw": (
            (runs[0]["events_per_worker_cpu_second"] or 0.0) * raw_cpu / raw_n
            if runs and raw_n
            else 0.0
        ),
        "machine": machine(),
    }
    base_steady = runs[0]["steady_events_per_second"] if runs else None
    if len(runs) > 1 and base_steady:
        report["speedup"] = {
            f"{r['workers']}_workers": (r["steady_events_per_second"] or 0.0) / base_steady
            for r in runs[1:]
        }
    return report


def table(report: dict[str, Any]) -> list[str]:
    """The report of :func:`run_bench` as table lines."""
    raw = report["raw"]
    rates = " / ".join(f"{p['events_per_second']:,.0f}" for p in raw["passes"])
    lines = [
        f"{'run':<22}{'events/s':>12}{'seconds':>10}{'steady ev/s':>13}"
        f"{'peak RSS MiB':>14}{'vs raw':>9}{'ev/CPU-s':>10}{'busy cores':>12}",
        f"{'raw consume+decode':<22}{raw['events_per_second']:>12,.0f}{raw['seconds']:>10.2f}"
        f"{'':>13}{'':>14}{1.0:>9.2f}{raw['events_per_cpu_second']:>10,.0f}   passes: {rates}",
    ]
    for r in report["pipeline"]:
        steady = r["steady_events_per_second"]
        lines.append(
            f"{'pipeline ' + str(r['workers']) + ' worker(s)':<22}"
            f"{r['events_per_second']:>12,.0f}{r['seconds']:>10.2f}"
            f"{f'{steady:,.0f}' if steady else '-':>13}"
            f"{r['peak_rss_bytes'] / 2**20:>14.0f}"
            f"{r['ratio_to_raw']:>9.2f}"
            f"{r['events_per_worker_cpu_second'] or 0:>10,.0f}"
            f"{r['machine_busy_cores'] or 0:>12.2f}"
        )
    lines.append("vs raw: each run against the mean of the raw passes just before and after it")
    if raw["events_per_cpu_second"] and report["pipeline"]:
        one = report["pipeline"][0]["events_per_worker_cpu_second"] or 0.0
        lines.append(
            f"CPU cost: one worker {one / raw['events_per_cpu_second']:.2f} of raw's events per"
            " CPU second (steadier than the wall-clock ratio on a shared host)"
        )
    for name, x in report.get("speedup", {}).items():
        lines.append(f"speed-up {name.replace('_', ' ')} vs 1 (steady rates): {x:.2f}x")
    return lines
