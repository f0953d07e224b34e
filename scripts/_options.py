"""Options shared by the subcommands that describe a diffusion sampler on Gaussian data."""

import argparse
import re

from analysis import SPECTRUM_FORMS, parse_spectrum
from sampling import SOLVERS, GaussianTarget
from schedules import GRIDS, SCHEDULES, make_schedule

SPECTRUM_HELP = f"data covariance eigenvalues: {SPECTRUM_FORMS}"


def add_sampler_options(parser: argparse.ArgumentParser, *, grid: bool = True) -> None:
    parser.add_argument("--schedule", default="vp", help=f"one of: {', '.join(SCHEDULES)}")
    if grid:
        parser.add_argument("--grid", default="edm", help=f"one of: {', '.join(GRIDS)}")
    parser.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent (default 7)")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="diffusion-term coefficient (0 = probability-flow ODE, 1 = reverse SDE)")
    parser.add_argument("--solver", default="euler", help=f"one of: {', '.join(SOLVERS)}")
    parser.add_argument("--spectrum", default="power:1:100", help=SPECTRUM_HELP)
    parser.add_argument("--t-min", type=float, default=None, help="schedule's t_min (default: its own)")
    parser.add_argument("--t-max", type=float, default=None, help="schedule's t_max (default: its own)")


STEPS_SYNTAX = "integers N >= 1 and inclusive ranges A:B or A:B:K (1 <= A <= B, stride K >= 1)"
MAX_STEP_COUNTS = 100_000  # one range can not silently expand to millions of runs
_INT = re.compile(r"[+-]?[0-9]+")


def _steps_error(token: str, problem: str) -> ValueError:
    return ValueError(f"bad --steps value {token!r}: {problem}; allowed: {STEPS_SYNTAX}")


def parse_steps(tokens: list[str]) -> list[int]:
    """Step counts from --steps tokens: `N`, `A:B` (A, A+1, ..., B) or `A:B:K` (A, A+K, ... <= B).

    Order is kept as given; an exact repeat of an earlier step count is dropped (first occurrence
    wins), so `--steps 1:4 2 8` gives [1, 2, 3, 4, 8]. Tokens that are already ints are accepted too,
    so parsing twice is harmless. Any bad token raises ValueError naming it and the allowed syntax.
    """
    out: dict[int, None] = {}  # ordered set
    for raw in tokens:
        token = str(raw)
        parts = token.strip().split(":")
        if token.strip() == "":
            raise _steps_error(token, "empty value")
        if len(parts) > 3:
            raise _steps_error(token, "too many ':' (at most A:B:K)")
        values = []
        for part in parts:
            if not _INT.fullmatch(part.strip()):
                raise _steps_error(token, f"invalid int value: {part.strip()!r}")
            values.append(int(part))
        start, end = values[0], values[min(1, len(values) - 1)]
        for v in values[:2]:
            if v < 1:
                raise _steps_error(token, f"step counts must be integers >= 1, got {v}")
        if len(values) == 1:
            out[start] = None
            continue
        stride = values[2] if len(values) == 3 else 1
        if stride < 1:
            raise _steps_error(token, f"stride must be an integer >= 1, got {stride}")
        if end < start:
            raise _steps_error(token, f"range end {end} is before its start {start}")
        if (end - start) // stride + 1 > MAX_STEP_COUNTS:
            raise _steps_error(token, f"range has more than {MAX_STEP_COUNTS} step counts")
        out.update(dict.fromkeys(range(start, end + 1, stride)))
    if not out:
        raise ValueError(f"--steps needs at least one value; allowed: {STEPS_SYNTAX}")
    if len(out) > MAX_STEP_COUNTS:
        raise ValueError(f"--steps gives {len(out)} step counts; at most {MAX_STEP_COUNTS} allowed")
    return list(out)


def add_steps_option(parser: argparse.ArgumentParser, help_text: str = "step counts N",
                     *, required: bool = True) -> None:
    """`--steps TOKEN [TOKEN ...]` kept as strings; expand them in run() with parse_steps(args.steps)."""
    parser.add_argument("--steps", nargs="+", required=required, metavar="N|A:B|A:B:K",
                        help=f"{help_text}: {STEPS_SYNTAX}; e.g. 1:256 or 10:100:10 200")


def schedule_from(args):
    return make_schedule(args.schedule, t_min=args.t_min, t_max=args.t_max)


def target_from(args) -> GaussianTarget:
    return GaussianTarget(parse_spectrum(args.spectrum))


def check_solver_name(name: str) -> str:
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; allowed: {', '.join(SOLVERS)}")
    return name


def describe(args, schedule) -> dict:
    """The settings a result was computed with, echoed into JSON output."""
    out = {"schedule": args.schedule, "t_min": schedule.t_min, "t_max": schedule.t_max,
           "eta": args.eta, "solver": args.solver, "spectrum": args.spectrum}
    if hasattr(args, "grid"):
        out.update(grid=args.grid, rho=args.rho)
    return out
