"""`dlsim sweep`: exact errors of every (grid, eta, solver, N) in one run."""

from ._names import REFERENCES, SCHEDULES, STARTS, columns_epilog, solvers_help
from ._options import (
    ETA_HELP,
    GRID_HELP,
    SPECTRUM_HELP,
    add_devices_option,
    add_final_step_option,
    add_steps_option,
    add_time_range,
    check_choice,
    check_devices,
    check_final_step_and_reference,
    check_grid_token,
    check_solver_name,
    check_steps_early,
    eta_label,
    eta_value,
    grid_from,
    parse_eta,
    schedule_from,
    steps_with_grid_files,
    target_from,
    total_variance,
)
from ._output import table
from ._plot import add_plot_option, check_plot_path, plot_curves

NAME = "sweep"
HELP = ("exact W2^2, KL and weak error of many samplers at once: every grid x eta x solver x N, "
        "in a few compiled programs")
COLUMNS = ("grid", "eta", "solver", "steps", "w2sq", "kl", "weak_trace", "discretization",
           "initialization", "unstable")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP,
                              epilog=columns_epilog(COLUMNS[3:]))
    p.add_argument("--schedule", default="vp", help=f"one of: {', '.join(SCHEDULES)}")
    p.add_argument("--grid", nargs="+", default=["edm"], help=f"grids; each a {GRID_HELP}")
    p.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent")
    p.add_argument("--eta", nargs="+", default=["0"], help=f"diffusion coefficients; each a {ETA_HELP}")
    p.add_argument("--solver", nargs="+", default=["euler"], help=f"solvers, any of: {solvers_help()}")
    p.add_argument("--spectrum", default="power:1:100", help=SPECTRUM_HELP)
    add_steps_option(p, "step counts N (optional with grid files: their N)", required=False)
    add_time_range(p)
    p.add_argument("--start", default="marginal",
                   help=f"one of: {', '.join(STARTS)} (exact law at t_max, or the prior)")
    p.add_argument("--reference", default=None,
                   help=f"one of: {', '.join(REFERENCES)} (default: tmin; data with --final-step "
                        f"denoise)")
    add_final_step_option(p)
    add_plot_option(p)
    add_devices_option(p)
    return p


def run(args) -> dict:
    solvers = [check_solver_name(s) for s in args.solver]
    for g in args.grid:
        check_grid_token(g)
    check_choice("start", args.start, STARTS)
    reference = check_final_step_and_reference(args.final_step, args.reference)
    check_plot_path(args.plot)
    check_steps_early(args.steps, args.grid)
    check_devices(args.devices)
    eta_specs = [parse_eta(e) for e in args.eta]
    from analysis import error_sweep

    schedule = schedule_from(args)
    grids = [grid_from(g, schedule) for g in args.grid]
    steps = steps_with_grid_files(args.steps, grids)
    target = target_from(args)
    sweep = error_sweep(target, schedule, steps, grids=grids,
                        etas=[eta_value(e, schedule) for e in eta_specs], solvers=solvers,
                        rho=args.rho, start=args.start, reference=reference, progress=True,
                        devices=args.devices, final_step=args.final_step)
    # Rows are nested grid > eta > solver > steps: name them by the user's own tokens.
    labels = [(g, eta_label(e), s, n) for g in args.grid for e in eta_specs for s in solvers
              for n in steps]
    bound = total_variance(target)
    rows = []
    for (g, e, s, n), r in zip(labels, sweep.rows, strict=True):
        row = {k: getattr(r, k) for k in COLUMNS[4:-1]}
        rows.append({"grid": g, "eta": e, "solver": s, "steps": n, **row,
                     "unstable": not (row["w2sq"] <= bound)})
    out = {"rows": rows, "schedule": args.schedule, "t_min": schedule.t_min,
           "t_max": schedule.t_max, "spectrum": args.spectrum, "grids": args.grid,
           "etas": [eta_label(e) for e in eta_specs], "solvers": solvers, "steps": steps,
           "rho": args.rho, "start": args.start, "reference": reference,
           "final_step": args.final_step,
           "truncation": sweep.rows[0].truncation, "programs": sweep.programs,
           "compiled": sweep.compiled, "total_variance": bound,
           "unstable": any(r["unstable"] for r in rows)}
    if out["unstable"]:
        bad = [f"{r['solver']}/{r['grid']}/eta {r['eta']}/N {r['steps']}" for r in rows
               if r["unstable"]]
        out["warnings"] = [f"{len(bad)} row(s) have W2^2 above the data's total variance "
                           f"{bound:.6g} (unstable: the sampler diverges in practice): "
                           + "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")]
    if args.plot:
        curves = {}
        for r in rows:
            curves.setdefault(f"{r['solver']} / {r['grid']} / eta {r['eta']}", []).append(r)
        out["plot"] = plot_curves(
            args.plot, [(k, [r["steps"] for r in v], [r["w2sq"] for r in v])
                        for k, v in curves.items()],
            xlabel="steps N", ylabel="exact W2^2",
            title=f"{args.schedule}, spectrum {args.spectrum}, reference {reference}")
    return out


def columns(result: dict) -> dict:
    return {k: [row[k] for row in result["rows"]] for k in COLUMNS}


def render(result: dict) -> str:
    rows = result["rows"]
    head = (f"{len(rows)} exact runs on {result['schedule']}, spectrum {result['spectrum']}; "
            f"reference: {result['reference']}, start: {result['start']}, final step: "
            f"{result['final_step']}; truncation W2^2 = "
            f"{result['truncation']:.6g}; {result['programs']} compiled program(s)")
    cols = columns(result)
    cols["unstable"] = ["yes" if u else "" for u in cols["unstable"]]
    return head + "\n" + table(cols)
