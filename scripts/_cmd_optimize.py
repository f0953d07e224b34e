"""`dlsim optimize`: a grid (or EDM rho, or eta) minimising the exact W2^2 at N steps."""

from analysis import optimize_edm_rho, optimize_eta, optimize_grid

from ._options import add_sampler_options, check_solver_name, describe, schedule_from, target_from
from ._output import table

NAME = "optimize"
HELP = ("optimise the grid (free form), the EDM rho, or eta for a spectrum: exact W2^2 at N "
        "steps, against every standard grid")
FAMILIES = ("free", "edm-rho", "eta")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    add_sampler_options(p)
    p.add_argument("--steps", type=int, required=True, help="number of steps N")
    p.add_argument("--family", default="free",
                   help=f"one of: {', '.join(FAMILIES)} (default free); --grid is the grid "
                        f"the eta family uses")
    p.add_argument("--iterations", type=int, default=300,
                   help="gradient steps for the free-form grid (default 300)")
    return p


def run(args) -> dict:
    if args.family not in FAMILIES:
        raise ValueError(f"unknown family {args.family!r}; allowed: {', '.join(FAMILIES)}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {args.iterations}")
    schedule = schedule_from(args)
    lam = target_from(args).eigenvalues
    solver = check_solver_name(args.solver)
    if args.family == "free":
        result = optimize_grid(schedule, lam, args.steps, solver=solver, eta=args.eta,
                               rho=args.rho, iterations=args.iterations)
    elif args.family == "edm-rho":
        result = optimize_edm_rho(schedule, lam, args.steps, solver=solver, eta=args.eta)
    else:
        result = optimize_eta(schedule, lam, args.steps, grid=args.grid, rho=args.rho,
                              solver=solver)
    settings = describe(args, schedule)
    settings["grid_name"] = settings.pop("grid")
    return {**settings, **result.to_dict()}


def render(result: dict) -> str:
    head = (f"{result['family']} optimisation, {result['solver']} on {result['schedule']}, "
            f"eta = {result['eta']}, spectrum {result['spectrum']}, N = {result['steps']}:\n"
            f"  W2^2 = {result['w2sq']:.6g} ({result['message']})\n"
            f"  parameters: {result['parameters']}")
    std = result["standard"]
    cols = {"grid": list(std) + ["optimised"],
            "w2sq": [("diverges" if v is None else v) for v in std.values()] + [result["w2sq"]]}
    times = ", ".join(f"{t:.5g}" for t in result["grid"])
    return head + "\n" + table(cols) + f"\n  grid: [{times}]"
