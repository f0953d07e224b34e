"""`dlsim optimize`: a grid (or EDM rho, or eta) minimising the exact W2^2 at N steps, with how
tuned it is (neighbouring N, perturbed spectra) and optional robust optimisation."""

from pathlib import Path

from ._names import GRIDS
from ._options import (
    GRID_FILE_SUFFIXES,
    add_sampler_options,
    check_grid_token,
    check_solver_name,
    describe,
    eta_value,
    grid_from,
    parse_eta,
    schedule_from,
    target_from,
)
from ._output import format_number, table

NAME = "optimize"
HELP = ("optimise the grid (free form), the EDM rho, or eta for a spectrum: exact W2^2 at N "
        "steps, against every standard grid, and how the optimum does at N/2, 2N and on "
        "perturbed spectra")
FAMILIES = ("free", "edm-rho", "eta")
AGGREGATES = ("mean", "worst")
EPILOG = """output:
  w2sq: exact W2^2 of the optimised sampler at N; standard: W2^2 of every standard grid at N
    (n/a: the grid does not apply to this schedule and N, or the sampler diverges on it)
  robustness rows (the optimum where it was not tuned):
    case: N, N/2, 2N (same spectrum), or N on a perturbed spectrum:
      truncated = the largest half of the eigenvalues; extended = twice as many, the tail
      continued by a log-log line fitted on the smaller half; resampled = a bootstrap
      resample of the eigenvalues (seed 0)
    baseline: the best standard grid of that case (grid families) or the better of eta = 0
      and eta = 1 on the same grid (eta family); gain = baseline W2^2 / optimised W2^2
  A large gain at N that collapses at N/2, 2N or on a perturbed spectrum is a tuned
  cancellation, not a better grid: use --robust.
  --eta family: eta(t) = exp(A + B s + C s^2), s = 2 (log n(t) - log n(t_min)) /
  (log n(t_max) - log n(t_min)) - 1, n the noise level; pass it on as --eta exp-quad:A,B,C."""


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP, epilog=EPILOG)
    add_sampler_options(p)
    p.add_argument("--steps", type=int, required=True, help="number of steps N")
    p.add_argument("--family", default="free",
                   help=f"one of: {', '.join(FAMILIES)}; --grid is the grid the eta family uses")
    p.add_argument("--iterations", type=int, default=300, help="gradient steps for a free-form grid")
    p.add_argument("--save", default=None, metavar="FILE",
                   help="write the optimised grid to FILE (.npy or .csv; `--grid FILE` reads it); "
                        "the eta family also writes its eta to FILE with suffix .eta (`--eta` "
                        "reads it)")
    p.add_argument("--no-report", action="store_true",
                   help="skip the robustness rows (N/2, 2N, perturbed spectra)")
    p.add_argument("--robust", action="store_true",
                   help="optimise over a set of step counts and spectra (see --robust-steps, "
                        "--robust-spectra, --aggregate) instead of at N on one spectrum")
    p.add_argument("--robust-steps", type=int, nargs="+", default=None, metavar="N",
                   help="step counts of the robust set (None: N/2 N 2N for edm-rho and eta; "
                        "N for free, whose grid has N points)")
    p.add_argument("--robust-spectra", nargs="+", default=None, metavar="SPEC",
                   help="spectra of the robust set besides --spectrum, or `perturbed` for its "
                        "truncated, extended and resampled versions (None: perturbed for free, "
                        "none for edm-rho and eta)")
    p.add_argument("--aggregate", default="mean",
                   help="robust objective: mean (mean of log W2^2 over the set = geometric mean "
                        "of the errors) or worst (largest W2^2)")
    return p


def _check(args):
    if args.family not in FAMILIES:
        raise ValueError(f"unknown family {args.family!r}; allowed: {', '.join(FAMILIES)}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {args.iterations}")
    if args.aggregate not in AGGREGATES:
        raise ValueError(f"unknown --aggregate {args.aggregate!r}; allowed: {', '.join(AGGREGATES)}")
    check_solver_name(args.solver)
    check_grid_token(args.grid)
    if args.family != "eta" and args.grid not in GRIDS:
        raise ValueError(f"--grid {args.grid!r}: the {args.family} family builds its own grid; "
                         f"a grid file is used by --family eta only")
    if args.save is not None and Path(args.save).suffix.lower() not in GRID_FILE_SUFFIXES:
        raise ValueError(f"--save needs a .npy or .csv file name, got {args.save!r}")
    if args.robust and args.family == "eta" and args.grid not in GRIDS:
        raise ValueError("--robust --family eta runs at several N: --grid must be a grid name")
    for n in args.robust_steps or []:
        if n < 1:
            raise ValueError(f"--robust-steps must be integers >= 1, got {n}")
    eta = parse_eta(args.eta)
    if args.family == "eta" and eta != 0.0:
        raise ValueError(f"--family eta optimises eta; leave --eta out (got {args.eta})")
    return eta


def run(args) -> dict:
    eta_spec = _check(args)
    import numpy as np

    from analysis import (
        optimize_edm_rho,
        optimize_eta,
        optimize_grid,
        optimize_robust,
        parse_spectrum,
        perturbed_spectra,
        robustness_report,
    )

    schedule = schedule_from(args)
    lam = np.asarray(target_from(args).eigenvalues)
    eta = eta_value(eta_spec, schedule)
    grid = grid_from(args.grid, schedule)
    if args.robust:
        extra = args.robust_spectra or (["perturbed"] if args.family == "free" else [])
        spectra, labels = [lam], [args.spectrum]
        for spec in extra:
            if spec == "perturbed":
                for k, v in perturbed_spectra(lam).items():
                    spectra.append(v)
                    labels.append(f"{k} {args.spectrum}")
            else:
                spectra.append(parse_spectrum(spec))
                labels.append(spec)
        steps = args.robust_steps or ([args.steps] if args.family == "free" else
                                      sorted({max(1, args.steps // 2), args.steps, 2 * args.steps}))
        steps = [args.steps] + [n for n in steps if n != args.steps]  # N first: the result's N
        result = optimize_robust(schedule, spectra, steps, family=args.family,
                                 aggregate=args.aggregate, solver=args.solver, eta=eta,
                                 grid=args.grid if args.family == "eta" else "edm", rho=args.rho,
                                 iterations=args.iterations)
        for member in result.parameters["set"]:
            member["spectrum"] = labels[member["spectrum"]]
    elif args.family == "free":
        result = optimize_grid(schedule, lam, args.steps, solver=args.solver, eta=eta,
                               rho=args.rho, iterations=args.iterations)
    elif args.family == "edm-rho":
        result = optimize_edm_rho(schedule, lam, args.steps, solver=args.solver, eta=eta)
    else:
        result = optimize_eta(schedule, lam, args.steps, grid=grid, rho=args.rho,
                              solver=args.solver)
    settings = describe(args, schedule)
    settings["grid_name"] = settings.pop("grid")
    out = {**settings, **result.to_dict()}
    if args.family == "eta":
        out["eta"] = result.parameters["eta"]  # the optimised constant, not an input
        fit = out["parameters"].get("eta_t")
        if fit:
            fit["cli_form"] = "exp-quad:" + ",".join(f"{p:.17g}" for p in fit["params"])
    if not args.no_report:
        out["robustness"] = robustness_report(schedule, lam, result, solver=args.solver, eta=eta,
                                              rho=args.rho)
    if args.save is not None:
        out["saved"] = _save(args.save, np.asarray(result.grid), out)
    return out


def _save(path: str, grid, out: dict) -> dict:
    import numpy as np

    from ._files import write_atomic

    path = Path(path)
    if path.suffix.lower() == ".npy":
        write_atomic(path, lambda tmp: np.save(tmp, grid))
    else:
        # repr of a float64 round-trips exactly, so `--grid FILE.csv` replays the same grid.
        write_atomic(path, lambda tmp: tmp.write_text("t\n" + "".join(f"{t!r}\n" for t in grid.tolist())))
    saved = {"grid": str(path)}
    if out.get("family", "").startswith("eta"):
        fit = out["parameters"].get("eta_t")
        better_fit = fit and fit.get("w2sq") is not None and fit["w2sq"] < out["w2sq"]
        form = fit["cli_form"] if better_fit else repr(float(out["parameters"]["eta"]))
        eta_path = path.with_suffix(".eta")
        write_atomic(eta_path, lambda tmp: tmp.write_text(form + "\n"))
        saved.update(eta=str(eta_path), eta_form=form)
    return saved


def columns(result: dict) -> dict:
    if "robustness" in result:
        rows = result["robustness"]
        return {k: [r[k] for r in rows] for k in rows[0]}
    return {"t": result["grid"]}


def render(result: dict) -> str:
    eta = result["eta"] if not result["family"].startswith("eta") else "optimised"
    head = (f"{result['family']} optimisation, {result['solver']} on {result['schedule']}, "
            f"eta = {eta}, spectrum {result['spectrum']}, N = {result['steps']}:\n"
            f"  W2^2 = {result['w2sq']:.6g} ({result['message']})\n"
            f"  parameters: {_parameters(result)}")
    std = result["standard"]
    # None: the grid does not apply here (its builder refuses this schedule or N, or it does
    # not span [t_min, t_max]) or the sampler diverges on it.
    cols = {"grid": list(std) + ["optimised"],
            "w2sq": [("n/a" if v is None else v) for v in std.values()] + [result["w2sq"]]}
    best = std.get(result["best_standard"])
    lines = [head, table(cols)]
    if result["family"].startswith("eta") and "robustness" in result:
        first = result["robustness"][0]
        if first["gain"]:
            lines.append(f"  gain of the constant eta over {first['baseline']} (the better of eta = 0 "
                         f"and 1 on this grid) at N: {first['gain']:.4g}x")
    elif best:
        lines.append(f"  gain over the best standard grid ({result['best_standard']}) at N: "
                     f"{best / result['w2sq']:.4g}x")
    if "robustness" in result:
        rows = result["robustness"]
        lines.append("how tuned (the optimum carried to other N and spectra; gain = baseline / "
                     "optimised):")
        lines.append(table({"case": [r["case"] for r in rows],
                            "optimised": [r["optimised"] for r in rows],
                            "dim": [r["dim"] for r in rows],
                            "w2sq": ["diverges" if r["w2sq"] is None else r["w2sq"] for r in rows],
                            "baseline": [r["baseline"] for r in rows],
                            "baseline_w2sq": ["diverges" if r["baseline_w2sq"] is None
                                              else r["baseline_w2sq"] for r in rows],
                            "gain": ["-" if r["gain"] is None else f"{r['gain']:.3g}x" for r in rows]}))
        gains = [r["gain"] for r in rows if r["gain"]]
        at_n = rows[0]["gain"]
        if at_n and gains and min(gains) < at_n / 10:
            lines.append(f"  warning: the gain {at_n:.3g}x at N falls to {min(gains):.3g}x where "
                         f"it was not tuned: a tuned cancellation; consider --robust")
    if "saved" in result:
        lines.append("  saved: " + ", ".join(f"{k} {v}" for k, v in result["saved"].items()))
    times = ", ".join(f"{t:.5g}" for t in result["grid"])
    lines.append(f"  grid: [{times}]")
    return "\n".join(lines)


def _parameters(result) -> str:
    p = dict(result["parameters"])
    fit = p.pop("eta_t", None)
    p.pop("set", None)
    text = ", ".join(f"{k} = {format_number(v)}" for k, v in p.items())
    if fit:
        a, b, c = fit["params"]
        text += (f"; eta(t) = exp({a:.4g} + {b:.4g} s + {c:.4g} s^2) with s = 2 (log n(t) - "
                 f"log n(t_min)) / (log n(t_max) - log n(t_min)) - 1 (n = noise level), W2^2 "
                 f"{fit['w2sq']:.6g}; reuse: --eta {fit['cli_form']}")
    if "set" in result["parameters"]:
        text += "; robust set: " + "; ".join(
            f"N {m['steps']} {m['spectrum']}: {format_number(m['w2sq'])}"
            for m in result["parameters"]["set"])
    return text
