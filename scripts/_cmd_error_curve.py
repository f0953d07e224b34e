"""`dlsim error-curve`: exact error of a sampler against N."""

from ._names import REFERENCES, STARTS, columns_epilog
from ._options import (
    add_devices_option,
    add_final_step_option,
    add_sampler_options,
    add_steps_option,
    check_choice,
    check_devices,
    check_final_step_and_reference,
    check_grid_token,
    check_solver_name,
    check_steps_early,
    describe,
    eta_value,
    grid_from,
    parse_eta,
    schedule_from,
    steps_with_grid_files,
    target_from,
    total_variance,
    unstable_flags,
)
from ._output import table
from ._plot import add_plot_option, check_plot_path, plot_curves

NAME = "error-curve"
HELP = "exact W2^2, KL and weak error of a sampler's output law against the number of steps"
COLUMNS = ("steps", "w2sq", "kl", "weak_trace", "discretization", "initialization")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP,
                              epilog=columns_epilog(COLUMNS + ("truncation", "unstable")))
    add_sampler_options(p)
    add_steps_option(p, "step counts N (optional with a grid file: its N)", required=False)
    p.add_argument("--reference", default=None,
                   help=f"one of: {', '.join(REFERENCES)} (default: tmin; data with --final-step "
                        f"denoise)")
    p.add_argument("--start", default="marginal", help="marginal (exact law at t_max) or prior")
    add_final_step_option(p)
    add_plot_option(p)
    add_devices_option(p)
    return p


def run(args) -> dict:
    # Every check that needs no jax first: a bad name is rejected in a fraction of a second.
    check_solver_name(args.solver)
    check_grid_token(args.grid)
    reference = check_final_step_and_reference(args.final_step, args.reference)
    check_choice("start", args.start, STARTS)
    check_plot_path(args.plot)
    check_steps_early(args.steps, [args.grid])
    check_devices(args.devices)
    eta = parse_eta(args.eta)
    from analysis import error_curve

    schedule = schedule_from(args)
    grid = grid_from(args.grid, schedule)
    steps = steps_with_grid_files(args.steps, [grid])
    target = target_from(args)
    curve = error_curve(target, schedule, steps, grid=grid, rho=args.rho,
                        eta=eta_value(eta, schedule), solver=args.solver, start=args.start,
                        reference=reference, devices=args.devices, final_step=args.final_step)
    out = {**curve.to_dict(), **describe(args, schedule)}
    bound = total_variance(target)
    flags = unstable_flags(out["w2sq"], bound)
    out.update(total_variance=bound, unstable=any(flags),
               unstable_steps=[n for n, f in zip(out["steps"], flags, strict=True) if f])
    if out["unstable"]:
        out["warnings"] = [f"W2^2 exceeds the data's total variance {bound:.6g} at N = "
                           f"{out['unstable_steps']}: the sampler is unstable there"]
    if args.plot:
        out["plot"] = plot_curves(
            args.plot, [(f"{args.solver} / {args.grid}", out["steps"], out["w2sq"])],
            xlabel="steps N", ylabel="exact W2^2",
            title=f"{args.schedule}, eta = {out['eta']}, spectrum {args.spectrum}")
    return out


def columns(result: dict) -> dict:
    return {k: result[k] for k in COLUMNS}


def render(result: dict) -> str:
    head = (f"{result['solver']} on {result['schedule']} / {result['grid']} grid, "
            f"eta = {result['eta']}, spectrum {result['spectrum']}; reference: {result['reference']}, "
            f"start: {result['start']}, final step: {result['final_step']}; truncation W2^2 = "
            f"{result['truncation']:.6g}")
    cols = columns(result)
    if result["unstable"]:
        cols["unstable"] = ["yes" if n in result["unstable_steps"] else "" for n in result["steps"]]
    return head + "\n" + table(cols)
