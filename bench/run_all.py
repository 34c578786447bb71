"""Run every bench/bench_*.py in turn, show its output, and end with the comparable summary.

Each script prints `name: value` lines; the summary repeats the headline figures, one
`name: number` line each, in a fixed order, so runs can be compared line by line. A figure whose
script is missing (or did not print it) is left out and named on stderr. The exit status is
non-zero if any script failed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMMARY = (
    "polls_vs_optimum",
    "polls_vs_optimum_warm",
    "optimum_polls_per_job_at_sdk_lag",
    "optimum_mean_lag_at_10_polls_s",
    "polls_per_job_vs_sdk",
    "mean_lag_vs_sdk",
    "polls_per_job_engine",
    "mean_lag_engine_s",
    "polls_per_job_sdk",
    "mean_lag_sdk_s",
    "polls_per_job_fixed_10s",
    "mean_lag_fixed_10s_s",
    "polls_per_job_fixed_15s",
    "mean_lag_fixed_15s_s",
    "cold_start_lag_ratio",
    "slot_utilisation",
    "keys_throughput_ratio",
    "submit_delay_p95_s",
    "tasks_in_flight_peak",
    "peak_queries_per_s_at_provider",
    "quota_ops_per_s",
    "quota_lost_updates",
    "quota_refused",
    "pg_quota_ops_per_s",
    "pg_quota_lost_updates",
    "failover_s",
    "failover_silent_s",
    "write_stall_s",
    "retention_write_ms_max_sqlite",
    "retention_write_ms_max_pg",
    "retention_rows_per_s_pg",
    "delivery_scaling",
    "delivery_per_min_one",
    "delivery_per_min_two",
    "download_rss_growth_mb",
    "queued_10k_rss_mb",
    "ack_concurrent_downloads",
    "ack_p99_ms",
    "fit_15s_1080p_s",
    "fit_ssim",
    "finish_to_post_fits_p50_s",
    "finish_to_post_fits_p95_s",
    "finish_to_post_fitted_p50_s",
    "finish_to_post_fitted_p95_s",
    "input_check_p95_ms_bounded",
    "input_check_p95_ms_unbounded",
    "burst_wall_s_bounded",
    "burst_wall_s_unbounded",
    "metrics_scrape_ms_p95_sqlite",
    "metrics_scrape_ms_p95_pg",
    "metrics_report_us",
)
LINE = re.compile(r"^([A-Za-z0-9_]+): (.*)$")


def run(script: Path) -> tuple[int, dict[str, str]]:
    """Run one script, echoing its output as it comes; return its exit status and figures."""
    print(f"== {script.name}", flush=True)
    started = time.perf_counter()
    figures: dict[str, str] = {}
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if match := LINE.match(line.rstrip("\n")):
                figures[match.group(1)] = match.group(2).strip()
    print(f"({script.name}: exit {process.returncode}, {time.perf_counter() - started:.1f} s)\n")
    return process.returncode, figures


def main() -> int:
    figures: dict[str, str] = {}
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        code, found = run(script)
        figures.update(found)
        if code != 0:
            failed.append(script.name)
    missing = [name for name in SUMMARY if name not in figures]
    if missing:
        print(f"not in this run: {', '.join(missing)}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    print("== summary", flush=True)
    for name in SUMMARY:
        if name in figures:
            print(f"{name}: {figures[name]}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
