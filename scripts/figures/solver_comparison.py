"""F-solvers: the practitioners' samplers x schedules at equal cost (NFE), exact, with the
winners table.

Every sampler of `sampling.SOLVERS` at its default eta (the ODE samplers at eta = 0; the SDE
and ancestral samplers at eta = 1, k-diffusion's default), on every grid of
`schedules.GRIDS`, on the VP-linear schedule, each run ended with the practitioners' jump to
sigma = 0 (`final_step="denoise"`, one score evaluation of the budget) and compared with the
data law: exact W2^2 and KL, no Monte Carlo (`compare_at_equal_nfe`, on the sweep engine).
Two data spectra: the 8x8 digits PCA spectrum and the power law lambda_i = i^-1, d = 64.

Figure: one panel per spectrum and eta; one line per sampler, its best grid at each NFE
(grids that do not cover the compared path are left out: see `Comparison.ranked`).
Markdown: the winner (sampler x schedule) per NFE and spectrum, with the best ODE and the
best SDE/ancestral sampler beside it, and the five best cells per panel.
CSV: every cell (sampler, grid, NFE, steps, W2^2, KL, weak error, the grid's span, ranked).
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from analysis import compare_at_equal_nfe, default_solvers, error_sweep, parse_spectrum  # noqa: E402
from sampling import GaussianTarget  # noqa: E402
from schedules import GRIDS, VPLinear  # noqa: E402

from .._files import save_figure, write_atomic, write_csv  # noqa: E402

NAME = "solver_comparison"
TITLE = ("Samplers x schedules at equal cost: exact W2^2 to the data law after the final denoise "
         "(VP), best schedule per sampler")
OUTPUTS = ["solver_comparison.png", "solver_comparison.csv", "solver_comparison.md"]
SPECTRA = {"digits": "digits", "power law": "power:1:64"}
BUDGETS = (10, 20, 50)
FINAL_STEP = "denoise"
# eta = each sampler's default: 0 for the ODE samplers, k-diffusion's 1 for the SDE and
# ancestral ones.
ETAS = {0.0: "ODE samplers, eta = 0", 1.0: "SDE / ancestral samplers, eta = 1"}
# --quick: the most used samplers and schedules only, one spectrum.
QUICK_SOLVERS = {0.0: ["euler", "dpm2m", "unipc"], 1.0: ["euler-ancestral", "dpmpp-2m-sde"]}
QUICK_GRIDS = ["karras", "exponential", "kl-optimal", "simple", "beta", "ays"]
# Grids that are the same array as another one here, left out so that ties do not crowd the
# tables: edm = karras, logsnr = exponential = polyexponential (its default rho = 1).
DUPLICATE_GRIDS = ("edm", "logsnr", "polyexponential")


def _comparisons(quick: bool) -> tuple[dict, dict]:
    """The comparisons per (spectrum, eta), and per spectrum the floor: W2^2 between the
    denoised exact marginal at t_min and the data law, which no sampler ending at t_min
    removes (the truncation part of any run; one short run reads it)."""
    schedule = VPLinear()
    spectra = dict(list(SPECTRA.items())[:1]) if quick else SPECTRA
    grids = QUICK_GRIDS if quick else [g for g in GRIDS if g not in DUPLICATE_GRIDS]
    out, floors = {}, {}
    for label, spec in spectra.items():
        target = GaussianTarget(parse_spectrum(spec))
        for eta in ETAS:
            solvers = QUICK_SOLVERS[eta] if quick else _default_samplers(eta)
            out[label, eta] = compare_at_equal_nfe(target, schedule, budgets=BUDGETS, solvers=solvers,
                                                   grids=grids, eta=eta, final_step=FINAL_STEP)
        floors[label] = error_sweep(target, schedule, [BUDGETS[0] - 1], grids=["karras"],
                                    solvers=["euler"], final_step=FINAL_STEP).rows[0].truncation
    return out, floors


def _default_samplers(eta: float) -> list[str]:
    """At eta = 0 the ODE samplers; at eta = 1 those whose default eta is 1 (the SDE and
    ancestral samplers) and the SDE solvers."""
    return default_solvers(eta)


def _ranked_cells(comp, i: int) -> list[tuple[float, str, str]]:
    """(W2^2, solver, grid) of the ranked finite cells at budget index i, best first."""
    cells = [(v, s, g) for s in comp.solvers for g in comp.grids
             if (v := comp.w2sq[s][g][i]) is not None and math.isfinite(v) and comp.ranked(s, g, i)]
    return sorted(cells)


def _cell(comp, s: str, g: str, i: int, eta: float) -> str:
    return (f"{s} x {g} (eta {eta:g}, {comp.steps[s][i]} steps): W2^2 {comp.w2sq[s][g][i]:.3g}, "
            f"KL {comp.kl[s][g][i]:.3g}")


def winners_markdown(comps: dict, floors: dict) -> str:
    """The winners table (one row per spectrum and NFE) and the top five of each panel."""
    lines = ["Exact W2^2 and KL(output || data) of each sampler's law after the final jump to "
             "sigma = 0 (x <- D(x, t_N), counted as 1 NFE), on VP-linear; every sampler at its "
             "default eta; the winner is the smallest W2^2 over samplers x schedules (schedules "
             "that start below t_max are shown in the CSV but not ranked; karras = edm and "
             "exponential = logsnr = polyexponential are listed under their practitioners' "
             "names).", "",
             "Floor (W2^2 of the denoised exact marginal at t_min against the data law, the same "
             "for every sampler ending at t_min): "
             + "; ".join(f"{label} {v:.3g}" for label, v in floors.items()) + ". Values below "
             "it come from a discretization error that partly offsets the denoiser's shrinkage.",
             "",
             "| spectrum | NFE | winner (sampler x schedule) | W2^2 | KL | best ODE (eta 0) | "
             "best SDE / ancestral (eta 1) |", "|---|---|---|---|---|---|---|"]
    spectra = list(dict.fromkeys(label for label, _ in comps))
    for label in spectra:
        for i, b in enumerate(BUDGETS):
            best = {eta: (_ranked_cells(comps[label, eta], i) or [None])[0] for eta in ETAS}
            found = [(c[0], eta, c) for eta, c in best.items() if c is not None]
            if not found:
                lines.append(f"| {label} | {b} | none | | | | |")
                continue
            _, eta, (v, s, g) = min(found)
            comp = comps[label, eta]
            per_eta = [f"{c[1]} x {c[2]} ({c[0]:.3g})" if c else "none" for c in best.values()]
            lines.append(f"| {label} | {b} | {s} x {g} (eta {eta:g}, {comp.steps[s][i]} steps) | "
                         f"{v:.3g} | {comp.kl[s][g][i]:.3g} | " + " | ".join(per_eta) + " |")
    lines.append("")
    for (label, eta), comp in comps.items():
        lines.append(f"Top five, {label}, {ETAS[eta]}:")
        for i, b in enumerate(BUDGETS):
            top = _ranked_cells(comp, i)[:5]
            lines.append(f"- NFE {b}: " + "; ".join(_cell(comp, s, g, i, eta) for _, s, g in top))
        lines.append("")
    return "\n".join(lines)


def make(out_dir, quick: bool = False) -> None:
    comps, floors = _comparisons(quick)
    spectra = list(dict.fromkeys(label for label, _ in comps))
    fig, axes = plt.subplots(len(spectra), len(ETAS), figsize=(6.2 * len(ETAS), 4.2 * len(spectra)),
                             sharex=True, squeeze=False)
    rows = {k: [] for k in ("spectrum", "eta", "solver", "grid", "nfe", "steps", "w2sq", "kl",
                            "weak_trace", "t_first", "t_last", "ranked")}
    for r, label in enumerate(spectra):
        for c, eta in enumerate(ETAS):
            comp, ax = comps[label, eta], axes[r, c]
            colours = plt.cm.tab20.colors
            for k, s in enumerate(comp.solvers):
                best = []
                for i, b in enumerate(BUDGETS):
                    cells = [(v, g) for g in comp.grids if (v := comp.w2sq[s][g][i]) is not None
                             and math.isfinite(v) and comp.ranked(s, g, i)]
                    if cells:
                        best.append((b, min(cells)[0]))
                if best:
                    ax.loglog(*zip(*best, strict=True), marker="o", ms=3, lw=1.2,
                              color=colours[k % len(colours)], ls="-" if k < 10 else "--", label=s)
            ax.set_title(f"{label}: {ETAS[eta]}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6.5, ncol=2)
            if r == len(spectra) - 1:
                ax.set_xlabel("score evaluations (NFE, final denoise included)")
            if c == 0:
                ax.set_ylabel("exact W2^2 to the data law (best schedule)")
            for s in comp.solvers:
                for g in comp.grids:
                    for i, b in enumerate(BUDGETS):
                        span = comp.span[s][g][i]
                        v = comp.w2sq[s][g][i]
                        for key, value in (("spectrum", label), ("eta", eta), ("solver", s),
                                           ("grid", g), ("nfe", b), ("steps", comp.steps[s][i]),
                                           ("w2sq", v), ("kl", comp.kl[s][g][i]),
                                           ("weak_trace", comp.weak_trace[s][g][i]),
                                           ("t_first", span[0] if span else None),
                                           ("t_last", span[1] if span else None),
                                           ("ranked", comp.ranked(s, g, i) if v is not None else None)):
                            rows[key].append("" if value is None else value)
    fig.suptitle(TITLE, fontsize=11)
    write_csv(out_dir / "solver_comparison.csv", rows)
    markdown = winners_markdown(comps, floors)
    write_atomic(out_dir / "solver_comparison.md", lambda tmp: tmp.write_text(markdown))
    save_figure(out_dir / "solver_comparison.png", fig)
