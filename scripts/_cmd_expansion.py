"""`dlsim expansion`: first-order constants of the Euler–Maruyama error ([GEO], MATH.md 3)."""

from ._names import GRIDS
from ._options import (
    add_sampler_options,
    check_choice,
    describe,
    eta_value,
    parse_eta,
    schedule_from,
    target_from,
)
from ._output import table

NAME = "expansion"
HELP = ("first-order constants of the Euler-Maruyama error: I(lambda) per eigenvalue, "
        "the Frechet (W2^2) and weak-trace constants")
EPILOG = """output:
  eigenvalue: data covariance eigenvalue lambda
  I: first-order constant of that direction (N x variance error -> I)
  error: quadrature error estimate of I
  frechet_constant: N^2 W2^2 -> this; weak_trace_constant: N x weak error of |x|^2 -> this"""


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP, epilog=EPILOG)
    add_sampler_options(p)
    p.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance of the quadrature")
    return p


def run(args) -> dict:
    if args.solver != "euler":
        raise ValueError(f"the first-order expansion is that of Euler-Maruyama; got solver "
                         f"{args.solver!r}, allowed: euler")
    # The expansion integrates a grid's continuous map: a named grid only.
    check_choice("grid", args.grid, GRIDS)
    eta = parse_eta(args.eta)
    from analysis import expansion

    schedule = schedule_from(args)
    target = target_from(args)
    result = expansion(schedule, target.eigenvalues, grid=args.grid, rho=args.rho,
                       eta=eta_value(eta, schedule), rtol=args.rtol)
    return {**result.to_dict(), **describe(args, schedule)}


def columns(result: dict) -> dict:
    return {"eigenvalue": result["eigenvalues"], "I": result["I"], "error": result["I_error"]}


def render(result: dict) -> str:
    head = (f"Euler-Maruyama on {result['schedule']} / {result['grid']} grid, eta = {result['eta']}, "
            f"spectrum {result['spectrum']}: N^2 W2^2 -> {result['frechet_constant']:.8g}, "
            f"N x weak error of |x|^2 -> {result['weak_trace_constant']:.8g}")
    cols = columns(result)
    if len(result["I"]) > 20:
        cols = {k: v[:10] + v[-10:] for k, v in cols.items()}
        head += "\n(first and last 10 eigenvalues)"
    return head + "\n" + table(cols)
