"""Tiny runs of ``scrapewatch bench`` so the benchmark cannot rot (figures not asserted)."""

from __future__ import annotations

from stream.bench import run_bench, table
from stream.benchlatency import latency_line, run_latency
from stream.benchmemory import memory_table, run_memory


def test_bench_runs_end_to_end_and_reports(settings_factory):
    lines: list[str] = []
    report = run_bench(
        settings_factory(), events=3000, partitions=2, workers=[1, 2], seed=3, echo=lines.append
    )
    assert report["events"] == 3000 + 2  # the events plus one closing event per partition
    assert report["raw"]["events_per_second"] > 0
    # one raw pass before the pipeline runs and one after each of them
    passes = report["raw"]["passes"]
    assert len(passes) == 3
    assert all(p["events"] == report["events"] and p["events_per_second"] > 0 for p in passes)
    assert all(p["cpu_seconds"] > 0 for p in passes) and report["cpu_ratio_pipeline_to_raw"] > 0
    one, two = report["pipeline"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for run in (one, two):
        assert run["events"] == report["events"]
        assert run["events_processed_incl_redelivered"] >= report["events"]
        assert run["windows_closed"] > 0
        assert run["peak_rss_bytes"] > 0
        assert run["worker_cpu_seconds"] > 0 and run["events_per_worker_cpu_second"] > 0
        assert run["machine_busy_cores"] > 0
        assert run["raw_events_per_second_around"] > 0 and run["ratio_to_raw"] > 0
        # tiny runs may finish before the steady point: the fields exist all the same
        assert {"steady_seconds", "steady_events_per_second", "rebalanced_after_steady"} <= set(run)
    assert report["ratio_pipeline_to_raw"] == one["ratio_to_raw"]
    assert one["ratio_to_raw"] == one["events_per_second"] / (
        (passes[0]["events_per_second"] + passes[1]["events_per_second"]) / 2
    )
    assert report["machine"]["kafka"] == "4.4.0"
    assert report["machine"]["cores"] >= 1
    lines = table(report)
    assert any(line.startswith("pipeline 2 worker(s)") for line in lines)
    assert any(line.startswith("CPU cost: one worker") for line in lines)


def test_bench_latency_of_an_injected_burst_scraper(settings_factory):
    lines: list[str] = []
    lat = run_latency(
        settings_factory(),
        window=2,
        lateness=1,
        windows=2,
        warmup=1,
        history=0.1,
        background=40,
        partitions=2,
        seed=3,
        echo=lines.append,
    )
    assert lat["scraper_events"] > 0
    assert lat["alerts_for_scraper"] >= 1
    assert 0 < lat["events_with_alert"] <= lat["scraper_events"]
    assert 0 < lat["p50_seconds"] <= lat["p99_seconds"] <= lat["max_seconds"]
    assert (lat["window_seconds"], lat["lateness_seconds"]) == (2, 1)
    assert "p99" in latency_line(lat)


def test_bench_memory_mode_reports_bytes_per_account_and_expiry(settings_factory):
    lines: list[str] = []
    mem = run_memory(settings_factory(), accounts=2000, partitions=2, seed=3, echo=lines.append)
    assert mem["entities_tracked"] == 2000  # every account, none dropped as late
    assert mem["rss_after_bytes"] > mem["rss_before_bytes"] > 0
    assert mem["bytes_per_tracked_account"] > 0
    assert mem["entities_tracked_after_expiry"] < mem["entities_tracked"]
    assert mem["expired"] > 0
    assert mem["expired_metric"] == mem["entities_tracked"]  # every account was forgotten
    assert any(line.startswith("bytes per tracked account") for line in memory_table(mem))
