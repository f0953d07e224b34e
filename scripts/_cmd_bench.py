"""`dlsim bench`: timings as ratios to baselines measured in the same run."""

from ._output import table
from .bench import run_benchmarks

NAME = "bench"
HELP = "benchmarks; each timing is printed as a ratio to a baseline measured in the same run"


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--quick", action="store_true", help="small sizes")
    return p


def run(args) -> dict:
    return run_benchmarks(quick=args.quick)


def render(result: dict) -> str:
    rows = result["results"]
    return table({"benchmark": [r["name"] for r in rows], "seconds": [r["seconds"] for r in rows],
                  "baseline": [r["baseline"] for r in rows],
                  "baseline_s": [r["baseline_seconds"] for r in rows],
                  "ratio": [r["ratio"] for r in rows]})
