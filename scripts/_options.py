"""Options shared by the subcommands that describe a diffusion sampler on Gaussian data."""

import argparse

from analysis import SPECTRUM_FORMS, parse_spectrum
from sampling import SOLVERS, GaussianTarget
from schedules import GRIDS, SCHEDULES, make_schedule


def add_sampler_options(parser: argparse.ArgumentParser, *, grid: bool = True) -> None:
    parser.add_argument("--schedule", default="vp", help=f"one of: {', '.join(SCHEDULES)}")
    if grid:
        parser.add_argument("--grid", default="edm", help=f"one of: {', '.join(GRIDS)}")
    parser.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent (default 7)")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="diffusion-term coefficient (0 = probability-flow ODE, 1 = reverse SDE)")
    parser.add_argument("--solver", default="euler", help=f"one of: {', '.join(SOLVERS)}")
    parser.add_argument("--spectrum", default="power:1:100",
                        help=f"data covariance eigenvalues: {SPECTRUM_FORMS}")
    parser.add_argument("--t-min", type=float, default=None, help="schedule's t_min (default: its own)")
    parser.add_argument("--t-max", type=float, default=None, help="schedule's t_max (default: its own)")


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
