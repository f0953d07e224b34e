"""Mirror Langevin on constrained targets ([MLMC]): escape and the survivors' stationary bias.

The unadjusted [MLMC] scheme on Beta(2, 5) (Fermi–Dirac and box log-barrier maps) and
Dirichlet(2, 3, 4) (entropic simplex map), with Hsieh et al.'s dual scheme beside it:
- how much of the chain escapes (dual point to infinity, or frozen once its primal image
  rounds onto the boundary), as a fraction lost by time T and as a rate per unit time;
- the variance bias of the surviving chains against h, from the noise-free 1-D grid law
  (`analysis.langevin_1d`, quasi-stationary law) for Beta and from Monte Carlo with standard
  errors for Dirichlet, read at T and 2T (stationarity check); slopes with standard errors;
- the all-chain statistic beside the survivors' (it is not stationary: lost chains pile up);
- the mass one Euclidean ULA step from the target puts outside the domain, divided by h,
  with its small-h limits (derived here): (1/B) * integral t Phi(-(t + 1/t)/sqrt 2) dt =
  1/(2 e B), B = B(2, 5) for Beta(2, 5) and B(2, 7) for the x_1 = 0 face of Dirichlet(2, 3, 4).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import langevin_1d, power_law_slope, stationary_mask, survivor_statistics  # noqa: E402
from sampling import (  # noqa: E402
    ULA,
    BetaProduct,
    BoxBarrier,
    Dirichlet,
    DualLangevin,
    EntropySimplex,
    FermiDirac,
    MirrorLangevin,
)
from sampling.langevin import run_mirror_langevin  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "langevin_mirror"
TITLE = "Mirror Langevin on constrained targets: escape, and the survivors' bias against h"
OUTPUTS = ["langevin_mirror.png", "langevin_mirror.csv", "langevin_mirror_mc.csv",
           "langevin_mirror_slopes.csv", "langevin_outside.csv"]
BETA = BetaProduct(2.0, 5.0)
DIRICHLET = Dirichlet(jnp.array([2.0, 3.0, 4.0]))
# (label, kernel class, map) for the 1-D grid route on Beta(2, 5)
GRID_CASES = [("Beta(2,5), Fermi-Dirac, MLMC", MirrorLangevin, FermiDirac()),
              ("Beta(2,5), box log-barrier, MLMC", MirrorLangevin, BoxBarrier(0.0, 1.0)),
              ("Beta(2,5), Fermi-Dirac, Hsieh dual", DualLangevin, FermiDirac())]
# (label, target, map) for Monte Carlo, unadjusted MLMC
MC_CASES = [("Beta(2,5), Fermi-Dirac, MLMC", BETA, FermiDirac()),
            ("Dirichlet(2,3,4), entropic simplex, MLMC", DIRICHLET, EntropySimplex())]
TIME = 6.0  # Monte Carlo and grid chains run ceil(T/h) steps from the target, then T more
ESCAPE = 30.0  # a chain whose dual point leaves [-30, 30]^d has escaped (analysis.DUAL_EDGE)
LIMITS = {"Beta(2,5)": 30.0 / (2 * np.e), "Dirichlet(2,3,4)": 56.0 / (2 * np.e)}
COLOURS = {GRID_CASES[0][0]: "C0", GRID_CASES[1][0]: "C1", GRID_CASES[2][0]: "C2",
           MC_CASES[1][0]: "C3"}


def _colour(label):
    return COLOURS.get(label, "C0")


def _steps(quick):
    grid = [0.1, 0.05, 0.025, 0.0125, 0.00625] if quick else [
        0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125, 0.0015625]
    mc = [0.05, 0.0125] if quick else [0.05, 0.025, 0.0125, 0.00625]
    return grid, mc


# The Fermi–Dirac survivors' slope reaches 1 only below h ~ 1e-3 (escape still shapes the
# quasi-stationary law above); its grid is cheap there, so it alone goes further down.
FINE_STEPS = {GRID_CASES[0][0]: [0.00078125, 0.000390625]}


def grid_rows(steps, mc_steps):
    """Grid law per case and h: quasi-stationary law at every h; at the Monte Carlo step
    sizes also the law after ceil(T/h) and ceil(2T/h) steps (for the comparison)."""
    rows = []
    for label, cls, mirror in GRID_CASES:
        fine = FINE_STEPS.get(label, []) if min(steps) < 0.005 else []
        for h in steps + fine:
            kernel = cls(BETA, mirror, h)
            k = int(np.ceil(round(TIME / h, 9)))
            propagate = h in mc_steps
            law = langevin_1d(kernel, 2 * k if propagate else 1, check=False)
            rows.append({
                "case": label, "step": h, "escape_rate": law.escape_rate,
                "quasi_stationary_bias": law.quasi_stationary_bias,
                "stationary": law.stationary,
                "lost_T": float(law.escaped[k]) if propagate else "",
                "lost_2T": float(law.escaped[2 * k]) if propagate else "",
                "survivor_var_error_T": float(law.variance[k] - law.target_variance)
                if propagate else "",
                "survivor_var_error_2T": float(law.variance[2 * k] - law.target_variance)
                if propagate else "",
                "mass_defect": law.mass_defect, "nodes": int(law.nodes.size)})
    return rows


def mc_rows(steps, n, key):
    """Monte Carlo per case and h, read at T and (continuing the same chains) at 2T."""
    rows = []
    for label, target, mirror in MC_CASES:
        x0 = target.sample(jr.fold_in(key, 0), n)
        mean, var = float(target.mean()[0]), float(target.variance()[0])
        for i, h in enumerate(steps):
            kernel = MirrorLangevin(target, mirror, h)
            k = int(np.ceil(round(TIME / h, 9)))
            run_key = jr.fold_in(key, 1 + i)
            run = run_mirror_langevin(run_key, kernel, x0, k, escape_box=(-ESCAPE, ESCAPE))
            for time in (TIME, 2 * TIME):
                if time > TIME:
                    run = run_mirror_langevin(run_key, kernel, run, k, escape_box=(-ESCAPE, ESCAPE))
                s = survivor_statistics(run, mean, var)
                rows.append({"case": label, "step": h, "time": time, "n_chains": n,
                             "escaped": s.escaped, "escaped_se": s.escaped_se,
                             "frozen": s.frozen, "frozen_se": s.frozen_se,
                             "lost": s.lost, "lost_se": s.lost_se,
                             "survivor_var_error": s.survivor_variance_error,
                             "survivor_var_error_se": s.survivor_variance_error_se,
                             "all_var_error": s.all_variance_error,
                             "all_var_error_se": s.all_variance_error_se,
                             "survivor_mean_error": s.survivor_mean_error,
                             "survivor_mean_error_se": s.survivor_mean_error_se})
    return rows


def _mc_rate(r1, r2):
    """Escape rate per unit time between T and 2T: -log(S(2T)/S(T)) / T, S = 1 - lost, with
    its delta-method standard error (the two fractions treated as independent: conservative,
    they are positively correlated)."""
    s1, s2 = 1 - r1["lost"], 1 - r2["lost"]
    rate = -np.log(s2 / s1) / TIME
    se = np.sqrt((r1["lost_se"] / s1) ** 2 + (r2["lost_se"] / s2) ** 2) / TIME
    return rate, se


def slope_rows(grid, mc):
    """Slopes with standard errors: grid values (no sampling noise; s.e. = misfit of one power
    law over the 3 smallest h; the quasi-stationary law is stationary by construction, and the
    law at T and 2T is compared with it), Monte Carlo on the points resolved (|bias| > 4 s.e.)
    and stationary (T and 2T agree within 3 s.e.), at most the 3 smallest h."""
    out = []
    for label, _, _ in GRID_CASES:
        sel = sorted((r for r in grid if r["case"] == label), key=lambda r: r["step"])[:3]
        h = [r["step"] for r in sel]
        drift = max((abs(r["survivor_var_error_2T"] - r["quasi_stationary_bias"])
                     for r in grid if r["case"] == label and r["lost_T"] != ""), default="")
        s, se = power_law_slope(h, [r["quasi_stationary_bias"] for r in sel])
        out.append({"case": label, "statistic": "survivors' stationary variance bias",
                    "route": "grid", "slope": s, "slope_se": se, "h_min": h[0], "h_max": h[-1],
                    "points": len(h), "stationarity": f"max |bias(2T) - bias(QSD)| = {drift:.2g}"})
        rates = [r["escape_rate"] for r in sel]
        if all(v > 1e-9 for v in rates):
            s, se = power_law_slope(h, rates)
            out.append({"case": label, "statistic": "escape rate per unit time", "route": "grid",
                        "slope": s, "slope_se": se, "h_min": h[0], "h_max": h[-1],
                        "points": len(h), "stationarity": "quasi-stationary eigenvalue"})
    for label, _, _ in MC_CASES:
        pairs = [(a, b) for a in mc for b in mc if a["case"] == b["case"] == label
                 and a["step"] == b["step"] and a["time"] == TIME and b["time"] == 2 * TIME
                 and a["survivor_var_error"] is not None and b["survivor_var_error"] is not None]
        pairs.sort(key=lambda p: p[0]["step"])
        ok = [p for p in pairs
              if stationary_mask(p[0]["survivor_var_error"], p[0]["survivor_var_error_se"],
                                 p[1]["survivor_var_error"], p[1]["survivor_var_error_se"])
              and abs(p[1]["survivor_var_error"]) > 4 * p[1]["survivor_var_error_se"]][:3]
        if len(ok) >= 2:
            h = [p[1]["step"] for p in ok]
            s, se = power_law_slope(h, [p[1]["survivor_var_error"] for p in ok],
                                    [p[1]["survivor_var_error_se"] for p in ok])
            out.append({"case": label, "statistic": "survivors' variance bias at 2T",
                        "route": "Monte Carlo", "slope": s, "slope_se": se, "h_min": h[0],
                        "h_max": h[-1], "points": len(h),
                        "stationarity": f"T and 2T agree within 3 s.e. at {len(ok)} of "
                                        f"{len(pairs)} step sizes"})
        rates = [_mc_rate(*p) for p in pairs]
        keep = [(p[0]["step"], r, se) for p, (r, se) in zip(pairs, rates, strict=True)
                if r > 4 * se][:3]
        if len(keep) >= 2:
            s, se = power_law_slope([k[0] for k in keep], [k[1] for k in keep],
                                    [k[2] for k in keep])
            out.append({"case": label, "statistic": "escape rate per unit time (T to 2T)",
                        "route": "Monte Carlo", "slope": s, "slope_se": se,
                        "h_min": keep[0][0], "h_max": keep[-1][0], "points": len(keep),
                        "stationarity": "rate between T and 2T"})
    return out


@jax.jit
def _outside(target, x, z, h):
    step = x - h * jax.vmap(target.grad_potential)(x) + jnp.sqrt(2 * h) * z
    return 1.0 - jnp.mean(jax.vmap(target.in_domain)(step))


def outside_rows(steps, n, key):
    """Mass one Euclidean ULA step from the target puts outside the domain: Beta(2, 5) on the
    grid (no noise), Dirichlet(2, 3, 4) by Monte Carlo (the same draws for every h)."""
    rows = []
    for h in steps:
        law = langevin_1d(ULA(BETA, h), 1, check=False)
        rows.append({"target": "Beta(2,5)", "step": h, "outside_mass": float(law.escaped[-1]),
                     "outside_mass_se": 0.0, "route": "grid",
                     "small_h_limit_per_h": LIMITS["Beta(2,5)"]})
    k1, k2 = jr.split(key)
    x = DIRICHLET.sample(k1, n)
    z = jr.normal(k2, x.shape)
    for h in steps:
        p = float(_outside(DIRICHLET, x, z, h))
        rows.append({"target": "Dirichlet(2,3,4)", "step": h, "outside_mass": p,
                     "outside_mass_se": float(np.sqrt(p * (1 - p) / n)), "route": "Monte Carlo",
                     "small_h_limit_per_h": LIMITS["Dirichlet(2,3,4)"]})
    return rows


def _style(ax, title, ylabel, log_y=True):
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("step size h")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)


def _select(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def _plot(fig, grid, mc, slopes, outside):
    axes = fig.subplots(2, 3)
    slope_of = {(r["case"], r["statistic"][:8], r["route"]): r for r in slopes}
    ax = axes[0, 0]
    for label, _, _ in GRID_CASES[:1]:
        sel = [r for r in _select(grid, case=label) if r["lost_T"] != ""]
        ax.plot([r["step"] for r in sel], [r["lost_T"] for r in sel], "-", color="C0",
                label=f"{label} (grid)")
    for label, _, _ in MC_CASES:
        sel = _select(mc, case=label, time=TIME)
        colour = _colour(label)
        ax.errorbar([r["step"] for r in sel], [r["lost"] for r in sel],
                    yerr=[2 * r["lost_se"] for r in sel], fmt="o", ms=4, capsize=3,
                    color=colour, label=f"{label} (MC: escaped + frozen)")
        ax.plot([r["step"] for r in sel], [max(r["frozen"], 1e-5) for r in sel], "x",
                color=colour, label="  of which frozen (MC)")
    box = max(r["lost_T"] for r in _select(grid, case=GRID_CASES[1][0]) if r["lost_T"] != "")
    ax.text(0.03, 0.03, f"box log-barrier (grid): lost < {max(box, 1e-16):.0e}",
            transform=ax.transAxes, fontsize=7)
    _style(ax, f"chains lost by T = {TIME:g} (bars: 2 s.e.)", "fraction lost")

    ax = axes[0, 1]
    for label, _, _ in GRID_CASES:
        sel = _select(grid, case=label)
        if all(r["escape_rate"] > 1e-9 for r in sel):
            r = slope_of.get((label, "escape r", "grid"))
            ax.plot([r_["step"] for r_ in sel], [r_["escape_rate"] for r_ in sel], "o-", ms=3,
                    color=_colour(label), label=f"{label} (grid; slope {r['slope']:.3f} "
                                                f"+- {r['slope_se']:.3f})")
    for label, _, _ in MC_CASES:
        pairs = list(zip(_select(mc, case=label, time=TIME), _select(mc, case=label,
                                                                     time=2 * TIME),
                         strict=True))
        rates = [_mc_rate(a, b) for a, b in pairs]
        ax.errorbar([a["step"] for a, _ in pairs], [r for r, _ in rates],
                    yerr=[2 * se for _, se in rates], fmt="s", ms=4, capsize=3,
                    mfc="none", color=_colour(label),
                    label=f"{label} (MC, T to 2T)")
    _style(ax, "escape rate per unit time (quasi-stationary)\nbox log-barrier and Hsieh: 0",
           "rate")

    ax = axes[0, 2]
    for label, _, _ in GRID_CASES:
        sel = _select(grid, case=label)
        r = slope_of[(label, "survivor", "grid")]
        ax.plot([r_["step"] for r_ in sel], [abs(r_["quasi_stationary_bias"]) for r_ in sel],
                "o-", ms=3, color=_colour(label),
                label=f"{label} (grid; slope {r['slope']:.3f} +- {r['slope_se']:.3f})")
    for label, _, _ in MC_CASES:
        for time, fmt in ((TIME, "s"), (2 * TIME, "D")):
            sel = [r for r in _select(mc, case=label, time=time)
                   if r["survivor_var_error"] is not None]
            r = slope_of.get((label, "survivor", "Monte Carlo"))
            extra = (f"; slope {r['slope']:.2f} +- {r['slope_se']:.2f}"
                     if r is not None and time > TIME else "")
            ax.errorbar([r_["step"] for r_ in sel], [abs(r_["survivor_var_error"]) for r_ in sel],
                        yerr=[2 * r_["survivor_var_error_se"] for r_ in sel], fmt=fmt, ms=4,
                        capsize=3, mfc="none", color=_colour(label),
                        label=f"{label} (MC at {time:g}{extra})")
    _style(ax, "survivors' stationary variance bias of x_1\n(grid: quasi-stationary law)",
           "|Var x_1 - exact|")

    ax = axes[1, 0]
    for label, _, _ in GRID_CASES:
        sel = sorted(_select(grid, case=label), key=lambda r: r["step"])
        h = np.array([r["step"] for r in sel])
        b = np.abs([r["quasi_stationary_bias"] for r in sel])
        ax.plot(np.sqrt(h[1:] * h[:-1]), np.diff(np.log(b)) / np.diff(np.log(h)), "o-", ms=3,
                color=_colour(label), label=label)
    for r in slopes:
        if r["route"] == "Monte Carlo" and r["statistic"].startswith("survivor"):
            ax.errorbar([np.sqrt(r["h_min"] * r["h_max"])], [r["slope"]],
                        yerr=[2 * r["slope_se"]], fmt="s", capsize=3, color=_colour(r["case"]),
                        label=f"{r['case']} (MC fit, 2 s.e.)")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    _style(ax, "local slope of the survivors' bias (grid) -> 1", "d log|bias| / d log h",
           log_y=False)

    ax = axes[1, 1]
    for label, _, _ in MC_CASES:
        colour = _colour(label)
        for time, fmt in ((TIME, "o-"), (2 * TIME, "o--")):
            sel = _select(mc, case=label, time=time)
            ax.errorbar([r["step"] for r in sel], [abs(r["all_var_error"]) for r in sel],
                        yerr=[2 * r["all_var_error_se"] for r in sel], fmt=fmt, ms=3,
                        capsize=2, color=colour, label=f"{label}: all chains, T = {time:g}")
    _style(ax, "all-chain variance error (lost chains included):\nnot stationary, "
               "grows with T", "|Var x_1 - exact|")

    ax = axes[1, 2]
    for name, colour in (("Beta(2,5)", "C0"), ("Dirichlet(2,3,4)", "C3")):
        sel = _select(outside, target=name)
        h = np.array([r["step"] for r in sel])
        ax.errorbar(h, [r["outside_mass"] / r["step"] for r in sel],
                    yerr=[2 * r["outside_mass_se"] / r["step"] for r in sel], fmt="o-", ms=3,
                    capsize=2, color=colour, label=f"{name} ({sel[0]['route']})")
        ax.axhline(LIMITS[name], color=colour, ls=":", lw=1,
                   label=f"small-h limit {LIMITS[name]:.2f} (derived)")
    _style(ax, "one Euclidean ULA step from the target:\nmass outside the domain / h",
           "outside mass / h", log_y=False)


def make(out_dir, quick: bool = False) -> None:
    grid_steps, mc_steps = _steps(quick)
    n = 4000 if quick else 20000
    grid = grid_rows(grid_steps, mc_steps)
    mc = mc_rows(mc_steps, n, jr.key(1))
    slopes = slope_rows(grid, mc)
    outside_steps = np.geomspace(1e-4, 0.4, 6 if quick else 14)
    outside = outside_rows([float(h) for h in outside_steps], 20000 if quick else 200000,
                           jr.key(7))
    fig = plt.figure(figsize=(19, 10.5), layout="constrained")
    _plot(fig, grid, mc, slopes, outside)
    fig.suptitle(TITLE + f" (chains start at the target; Monte Carlo: {n} chains read at "
                         f"T = {TIME:g} and {2 * TIME:g})", fontsize=11)

    def columns(rows):
        return {k: ["" if r[k] is None else r[k] for r in rows] for k in rows[0]}

    write_csv(out_dir / "langevin_mirror.csv", columns(grid))
    write_csv(out_dir / "langevin_mirror_mc.csv", columns(mc))
    write_csv(out_dir / "langevin_mirror_slopes.csv", columns(slopes))
    write_csv(out_dir / "langevin_outside.csv", columns(outside))
    save_figure(out_dir / "langevin_mirror.png", fig)

