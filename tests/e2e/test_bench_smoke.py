"""A tiny run of ``scrapewatch bench`` so the benchmark cannot rot (figures not asserted)."""

from __future__ import annotations

from stream.bench import run_bench


def test_bench_runs_end_to_end_and_reports(settings_factory):
    lines: list[str] = []
    report = run_bench(
        settings_factory(), events=3000, partitions=2, workers=[1], seed=3, echo=lines.append
    )
    assert report["events"] == 3000 + 2  # the events plus one closing event per partition
    assert report["raw"]["events_per_second"] > 0
    (one,) = report["pipeline"]
    assert one["events"] == report["events"]
    assert one["windows_closed"] > 0
    assert one["peak_rss_bytes"] > 0
    assert report["ratio_pipeline_to_raw"] > 0
    assert report["machine"]["kafka"] == "4.4.0"
    assert any(line.startswith("pipeline 1 worker(s)") for line in lines)
