"""`dlsim bench --quick` runs every benchmark and reports ratios to its baselines (how fast
is measured by `make bench`, never asserted here)."""

import json

from scripts.cli import main


def test_every_benchmark_runs_and_reports_a_ratio(capsys):
    assert main(["bench", "--quick", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    names = " ".join(r["name"] for r in results)
    for part in ("sweep in process", "dlsim sweep, whole process", "d=20000", "dlsim optimize",
                 "exact law of one grid", "Monte Carlo", "scaling: Monte Carlo", "scaling: sweep"):
        assert part in names
    for r in results:
        assert r["seconds"] > 0 and r["baseline_seconds"] > 0
        assert r["ratio"] == r["seconds"] / r["baseline_seconds"]
    sweep = next(r for r in results if r["baseline"] == "NumPy loop (same rows)")
    assert sweep["max_rel_diff_vs_baseline"] < 1e-10  # the baseline computes the same rows
    assert all(r["peak_rss_mb"] > 0 for r in results if "whole process" in r["name"])
