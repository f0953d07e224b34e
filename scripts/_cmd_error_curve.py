"""`dlsim error-curve`: exact error of a sampler against N."""

from analysis import REFERENCES, error_curve

from ._options import (
    add_sampler_options,
    add_steps_option,
    check_solver_name,
    describe,
    parse_steps,
    schedule_from,
    target_from,
)
from ._output import table

NAME = "error-curve"
HELP = "exact W2^2, KL and weak error of a sampler's output law against the number of steps"


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    add_sampler_options(p)
    add_steps_option(p, "step counts N")
    p.add_argument("--reference", default="tmin", help=f"one of: {', '.join(REFERENCES)}")
    p.add_argument("--start", default="marginal", help="marginal (exact law at t_max) or prior")
    return p


def run(args) -> dict:
    steps = parse_steps(args.steps)
    schedule = schedule_from(args)
    curve = error_curve(target_from(args), schedule, steps, grid=args.grid, rho=args.rho,
                        eta=args.eta, solver=check_solver_name(args.solver), start=args.start,
                        reference=args.reference)
    return {**curve.to_dict(), **describe(args, schedule)}


def render(result: dict) -> str:
    cols = {k: result[k] for k in ("steps", "w2sq", "kl", "weak_trace", "discretization",
                                   "initialization")}
    head = (f"{result['solver']} on {result['schedule']} / {result['grid']} grid, "
            f"eta = {result['eta']}, spectrum {result['spectrum']}; reference: {result['reference']}, "
            f"start: {result['start']}; truncation W2^2 = {result['truncation']:.6g}")
    return head + "\n" + table(cols)
