"""`dlsim bench`: timings as ratios to baselines measured in the same run."""

from ._output import table

NAME = "bench"
HELP = ("benchmarks; each timing is printed as a ratio to a baseline measured in the same run "
        "(ratio < 1: dlsim is faster)")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--quick", action="store_true", help="small sizes (checks that every benchmark runs)")
    return p


def run(args) -> dict:
    from .bench import run_benchmarks

    return run_benchmarks(quick=args.quick)


def columns(result: dict) -> dict:
    rows = result["results"]
    optional = lambda key: ["" if key not in r else r[key] for r in rows]
    return {"benchmark": [r["name"] for r in rows], "seconds": [r["seconds"] for r in rows],
            "compile_s": optional("compile_seconds"), "baseline": [r["baseline"] for r in rows],
            "baseline_s": [r["baseline_seconds"] for r in rows],
            "ratio": [r["ratio"] for r in rows], "peak_rss_mb": optional("peak_rss_mb")}


def render(result: dict) -> str:
    return table(columns(result))
