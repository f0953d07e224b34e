"""P5: optimised grids against EDM, log-SNR and tangent grids, and the table of their errors."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import (  # noqa: E402
    exact_w2sq,
    optimize_grid,
    spectrum_density_grid,
)
from schedules import EDM, make_grid  # noqa: E402

from .._files import save_figure, write_atomic, write_csv  # noqa: E402
from .p3_eta import spectra  # noqa: E402

NAME = "p5_optimized"
TITLE = "P5: optimised grids vs EDM (rho = 7), log-SNR and tangent grids (EDM schedule, PF-ODE)"
OUTPUTS = ["p5_optimized.png", "p5_optimized.csv", "p5_table.md"]
COLUMNS = ["edm", "logsnr", "kl-optimal"]


def make(out_dir, quick: bool = False) -> None:
    schedule = EDM()
    steps = [10, 20] if quick else [10, 20, 50]
    dim = 100 if quick else 1000
    iterations = 40 if quick else 400
    rows = {"spectrum": [], "steps": [], "edm": [], "logsnr": [], "tangent": [],
            "sqrt_w_fixed_point": [], "optimized": [], "gain_vs_best_standard": [],
            "converged": []}
    drawn = {}
    for label, lam in spectra(dim).items():
        for n in steps:
            opt = optimize_grid(schedule, lam, n, iterations=iterations)
            fixed = exact_w2sq(schedule, lam, spectrum_density_grid(schedule, lam, n))
            best = min(v for v in opt.standard.values() if v is not None)
            values = (label, n, opt.standard["edm"], opt.standard["logsnr"],
                      opt.standard["kl-optimal"], fixed, opt.w2sq, best / opt.w2sq, opt.converged)
            for key, v in zip(rows, values, strict=True):
                rows[key].append(v)
            if n == 20:
                drawn[label] = opt.grid
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    k = np.arange(21)
    for name, style in (("edm", "k--"), ("logsnr", "k:"), ("kl-optimal", "k-.")):
        axes[0].semilogy(k, np.asarray(make_grid(name, schedule, 20)), style, lw=1,
                         label=name if name != "kl-optimal" else "tangent (kl-optimal)")
    for label, grid in drawn.items():
        axes[0].semilogy(k, grid, "o-", ms=3, label=f"optimised, {label}")
    axes[0].set_xlabel("step k (N = 20)")
    axes[0].set_ylabel("t_k = sigma_k")
    axes[0].set_title("grids")
    axes[0].legend(fontsize=7)
    labels = list(spectra(dim))
    width = 0.8 / len(steps)
    for j, n in enumerate(steps):
        gains = [rows["gain_vs_best_standard"][i] for i in range(len(rows["steps"]))
                 if rows["steps"][i] == n]
        axes[1].bar(np.arange(len(labels)) + j * width, gains, width, label=f"N = {n}")
    axes[1].set_xticks(np.arange(len(labels)) + width * (len(steps) - 1) / 2, labels, fontsize=8)
    axes[1].set_ylabel("best standard W2^2 / optimised W2^2")
    axes[1].set_title("gain of the optimised grid")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(TITLE)
    write_csv(out_dir / "p5_optimized.csv", rows)
    write_atomic(out_dir / "p5_table.md", lambda tmp: tmp.write_text(table_markdown(rows, dim)))
    save_figure(out_dir / "p5_optimized.png", fig)


def table_markdown(rows: dict, dim: int) -> str:
    head = (f"Exact W2^2 of Euler on the PF-ODE (EDM schedule, t in [0.002, 80]) at N steps; "
            f"power-law spectra lambda_i = i^-alpha, d = {dim}; digits = PCA spectrum of the "
            f"8x8 digits (61 non-zero eigenvalues).\n\n"
            "| spectrum | N | EDM rho=7 | log-SNR | tangent | sqrt(w) fixed point | optimised "
            "| gain |\n|---|---|---|---|---|---|---|---|\n")
    lines = []
    for i in range(len(rows["steps"])):
        lines.append(
            f"| {rows['spectrum'][i]} | {rows['steps'][i]} | {rows['edm'][i]:.4g} | "
            f"{rows['logsnr'][i]:.4g} | {rows['tangent'][i]:.4g} | "
            f"{rows['sqrt_w_fixed_point'][i]:.4g} | {rows['optimized'][i]:.4g} | "
            f"{rows['gain_vs_best_standard'][i]:.2f}x |")
    return head + "\n".join(lines) + "\n"
