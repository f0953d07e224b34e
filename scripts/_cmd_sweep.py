"""`dlsim sweep`: exact errors of every (grid, eta, solver, N) in one run."""

from pathlib import Path

from analysis import REFERENCES, STARTS, error_sweep
from sampling import SOLVERS
from schedules import GRIDS

from ._files import write_csv
from ._options import (
    SPECTRUM_HELP,
    add_steps_option,
    check_solver_name,
    parse_steps,
    schedule_from,
    target_from,
)
from ._output import table

NAME = "sweep"
HELP = ("exact W2^2, KL and weak error of many samplers at once: every grid x eta x solver x N, "
        "in a few compiled programs")
COLUMNS = ("grid", "eta", "solver", "steps", "w2sq", "kl", "weak_trace", "discretization",
           "initialization")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--schedule", default="vp", help="one of: vp, vp-cosine, ve, edm, flow (default vp)")
    p.add_argument("--grid", nargs="+", default=["edm"], help=f"grids, any of: {', '.join(GRIDS)}")
    p.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent (default 7)")
    p.add_argument("--eta", type=float, nargs="+", default=[0.0],
                   help="diffusion-term coefficients (0 = probability-flow ODE, 1 = reverse SDE)")
    p.add_argument("--solver", nargs="+", default=["euler"], help=f"solvers, any of: {', '.join(SOLVERS)}")
    p.add_argument("--spectrum", default="power:1:100", help=SPECTRUM_HELP)
    add_steps_option(p, "step counts N")
    p.add_argument("--t-min", type=float, default=None, help="schedule's t_min (default: its own)")
    p.add_argument("--t-max", type=float, default=None, help="schedule's t_max (default: its own)")
    p.add_argument("--start", default="marginal",
                   help=f"one of: {', '.join(STARTS)} (exact law at t_max, or the prior)")
    p.add_argument("--reference", default="tmin", help=f"one of: {', '.join(REFERENCES)}")
    p.add_argument("--csv", type=Path, default=None, metavar="FILE",
                   help="also write the rows to FILE as CSV (atomically)")
    return p


def run(args) -> dict:
    steps = parse_steps(args.steps)
    solvers = [check_solver_name(s) for s in args.solver]
    schedule = schedule_from(args)
    sweep = error_sweep(target_from(args), schedule, steps, grids=args.grid, etas=args.eta,
                        solvers=solvers, rho=args.rho, start=args.start, reference=args.reference,
                        progress=True)
    rows = [{k: getattr(r, k) for k in COLUMNS} for r in sweep.rows]
    if args.csv is not None:
        write_csv(args.csv, {k: [row[k] for row in rows] for k in COLUMNS})
    return {"rows": rows, "schedule": args.schedule, "t_min": schedule.t_min,
            "t_max": schedule.t_max, "spectrum": args.spectrum, "grids": args.grid,
            "etas": args.eta, "solvers": solvers, "steps": steps, "rho": args.rho,
            "start": args.start, "reference": args.reference,
            "truncation": sweep.rows[0].truncation, "programs": sweep.programs,
            "compiled": sweep.compiled}


def render(result: dict) -> str:
    rows = result["rows"]
    head = (f"{len(rows)} exact runs on {result['schedule']}, spectrum {result['spectrum']}; "
            f"reference: {result['reference']}, start: {result['start']}; truncation W2^2 = "
            f"{result['truncation']:.6g}; {result['programs']} compiled program(s)")
    return head + "\n" + table({k: [row[k] for row in rows] for k in COLUMNS})
