"""`dlsim compare`: solvers x grids at equal score-evaluation budgets (NFE), ranked by a metric."""

from ._names import GRIDS, METRIC_COLUMNS, METRICS, SCHEDULES, SOLVERS, columns_epilog, solvers_help
from ._options import (
    ETA_HELP,
    SPECTRUM_HELP,
    add_devices_option,
    add_final_step_option,
    add_time_range,
    check_choice,
    check_devices,
    check_final_step_and_reference,
    check_solver_name,
    eta_label,
    eta_value,
    parse_eta,
    schedule_from,
    target_from,
    total_variance,
)
from ._output import format_number, table
from ._plot import add_plot_option, check_plot_path, plot_curves

NAME = "compare"
HELP = ("solvers x grids at equal numbers of score evaluations (NFE): exact W2^2, KL and weak "
        "error of each, ranked by one metric with the others beside it, the winner per budget")
DEFAULT_GRIDS = ("uniform", "quadratic", "edm", "logsnr", "kl-optimal")
COLUMNS = ("solver", "grid", "nfe", "steps", "w2sq", "kl", "weak_trace", "best", "ranked",
           "unstable")


def add_parser(subparsers):
    p = subparsers.add_parser(
        NAME, help=HELP, description=HELP + ". A solver with k score evaluations per step gets "
        "N = floor(budget / k) steps (floor((budget - 1) / k) with --final-step denoise, whose jump "
        "to sigma = 0 costs one evaluation); the error is the discretization error (start: the "
        "exact marginal at the grid's first time; reference: the exact marginal at its last "
        "time, or the data law after --final-step denoise).",
        epilog=columns_epilog(("nfe", "steps", "w2sq", "kl", "weak_trace", "unstable")) +
        "\n  best: the winner of its budget under --metric (smallest finite value)"
        "\n  a cell is null when the budget buys fewer steps than the solver needs, or the grid"
        "\n  does not apply at that N (its builder refuses it)"
        "\n  ranked: false (marked ~ in the table) for a grid that starts below t_max, or ends"
        "\n  above t_min without --final-step denoise: shown, never the winner")
    p.add_argument("--schedule", default="vp", help=f"one of: {', '.join(SCHEDULES)}")
    p.add_argument("--spectrum", default="power:1:100", help=SPECTRUM_HELP)
    p.add_argument("--solver", nargs="+", default=None,
                   help=f"solvers, any of: {solvers_help()}; default: every solver that runs at "
                        f"this eta")
    p.add_argument("--grid", nargs="+", default=list(DEFAULT_GRIDS),
                   help=f"grids, any of: {', '.join(GRIDS)} (names only: a budget fixes N per "
                        f"solver, so a grid file does not fit)")
    p.add_argument("--nfe", nargs="+", type=int, default=[10, 20, 50], metavar="B",
                   help="score-evaluation budgets")
    p.add_argument("--eta", default="0", help=ETA_HELP)
    p.add_argument("--metric", default="w2sq",
                   help="ranking metric: " + "; ".join(f"{k} = {v}" for k, v in METRICS.items()))
    p.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent")
    add_time_range(p)
    add_final_step_option(p)
    add_plot_option(p)
    add_devices_option(p)
    return p


def run(args) -> dict:
    check_choice("metric", args.metric, METRICS)
    for g in args.grid:
        check_choice("grid", g, GRIDS)
    solvers = None if args.solver is None else [check_solver_name(s) for s in args.solver]
    for b in args.nfe:
        if b < 1:
            raise ValueError(f"--nfe budgets must be integers >= 1, got {b}")
    eta = parse_eta(args.eta)
    deterministic = eta == 0.0
    for s in solvers or []:
        kind = SOLVERS[s][1]
        if kind == "ode" and not deterministic or kind == "sde" and deterministic:
            raise ValueError(f"solver {s} runs at {'eta = 0' if kind == 'ode' else 'eta > 0'} only, "
                             f"got --eta {args.eta}")
    check_plot_path(args.plot)
    check_devices(args.devices)
    reference = check_final_step_and_reference(args.final_step, None)
    from analysis import compare_at_equal_nfe

    schedule = schedule_from(args)
    target = target_from(args)
    comp = compare_at_equal_nfe(target, schedule, budgets=args.nfe, solvers=solvers,
                                grids=args.grid, eta=eta_value(eta, schedule), rho=args.rho,
                                devices=args.devices, final_step=args.final_step)
    out = comp.to_dict(args.metric)
    bound = total_variance(target)
    rows = comp.rows(args.metric)
    for r in rows:
        r["unstable"] = r["w2sq"] is not None and not (r["w2sq"] <= bound)
        for key in ("w2sq", "kl", "weak_trace"):
            if r[key] is not None and r[key] == float("inf"):
                r[key] = "inf"
    out.update(rows=rows, schedule=args.schedule, spectrum=args.spectrum, t_min=schedule.t_min,
               t_max=schedule.t_max, eta=eta_label(eta), rho=args.rho, total_variance=bound,
               evaluations_per_step={s: SOLVERS[s][0] for s in comp.solvers},
               reference=reference,
               unstable=any(r["unstable"] for r in rows))
    if out["unstable"]:
        bad = [f"{r['solver']}/{r['grid']}/NFE {r['nfe']}" for r in rows if r["unstable"]]
        out["warnings"] = [f"{len(bad)} cell(s) have W2^2 above the data's total variance "
                           f"{bound:.6g} (unstable): " + "; ".join(bad[:5])
                           + ("; ..." if len(bad) > 5 else "")]
    if args.plot:
        column = METRIC_COLUMNS[args.metric]
        curves = []
        for s in comp.solvers:
            for g in comp.grids:
                cells = [r for r in rows if r["solver"] == s and r["grid"] == g
                         and isinstance(r[column], float)]
                curves.append((f"{s} / {g}", [r["nfe"] for r in cells],
                               [abs(r[column]) for r in cells]))
        out["plot"] = plot_curves(args.plot, curves, xlabel="score evaluations (NFE)",
                                  ylabel=f"exact {METRICS[args.metric]}",
                                  title=f"{args.schedule}, eta = {out['eta']}, spectrum {args.spectrum}")
    return out


def columns(result: dict) -> dict:
    return {k: [r[k] for r in result["rows"]] for k in COLUMNS}


def render(result: dict) -> str:
    metric = result["metric"]
    head = (f"equal-NFE comparison on {result['schedule']}, eta = {result['eta']}, spectrum "
            f"{result['spectrum']}; final step: {result['final_step']}, reference: "
            f"{result['reference']}; ranked by {METRICS[metric]} (* = winner of its budget, ~ = not "
            f"ranked: its grid does not cover the compared path); "
            f"evaluations per step: "
            + ", ".join(f"{s} {k}" for s, k in result["evaluations_per_step"].items()))
    rows = sorted(result["rows"], key=lambda r: (r["nfe"], _key(r, METRIC_COLUMNS[metric])))
    cols = {k: [("-" if r[k] is None else r[k]) for r in rows] for k in COLUMNS[:7]}
    cols["best"] = ["*" if r["best"] else "" for r in rows]
    cols["ranked"] = ["" if r["ranked"] or r["w2sq"] is None else "~" for r in rows]
    cols["unstable"] = ["yes" if r["unstable"] else "" for r in rows]
    wins = []
    for b, w in result["best"].items():
        wins.append(f"NFE {b}: " + ("none" if w is None else
                                    f"{w['solver']} on {w['grid']} ({w['steps']} steps; W2^2 "
                                    f"{format_number(w['w2sq'])}, KL {format_number(w['kl'])}, "
                                    f"weak {format_number(w['weak_trace'])})"))
    return head + "\n" + table(cols) + "\nwinners:\n  " + "\n  ".join(wins)


def _key(row, column):
    v = row[column]
    return float("inf") if not isinstance(v, float) else abs(v)
