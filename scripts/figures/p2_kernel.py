"""P2: the per-eigenvalue Fréchet kernel I(lambda)^2 / (4 m(t_min)) against lambda, per grid."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import expansion  # noqa: E402
from schedules import EDM  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "p2_kernel"
TITLE = "P2: which scales each grid penalises: I(lambda)^2 / (4 m(t_min)), EDM schedule"
OUTPUTS = ["p2_kernel.png", "p2_kernel.csv"]
ETAS = [0.0, 1.0]
# dlsim's own map-based grids (karras and exponential repeat edm and logsnr; the table-built
# practitioner grids have no continuous map for the expansion).
FIGURE_GRIDS = ("uniform", "quadratic", "edm", "logsnr", "geometric", "kl-optimal")


def make(out_dir, quick: bool = False) -> None:
    lam = np.geomspace(1e-4, 1e2, 25 if quick else 81)
    schedule = EDM()
    rows = {"grid": [], "eta": [], "eigenvalue": [], "I": [], "kernel": []}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, eta in zip(axes, ETAS, strict=True):
        for grid in FIGURE_GRIDS:
            exp = expansion(schedule, lam, grid=grid, eta=eta)
            kernel = exp.frechet_kernel()
            # On EDM the log-SNR grid is the geometric grid: dash it on top so both show.
            dashed = grid == "logsnr"
            ax.loglog(lam, kernel, "--" if dashed else "-", zorder=3 if dashed else 2, label=grid)
            for v, i, k in zip(lam, exp.I, kernel, strict=True):
                for key, x in zip(rows, (grid, eta, float(v), i, float(k)), strict=True):
                    rows[key].append(x)
        ax.set_title(f"eta = {eta:g} ({'probability-flow ODE' if eta == 0 else 'reverse SDE'})")
        ax.set_xlabel("eigenvalue lambda")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("N^2 W2^2 contribution of one eigenvalue")
    axes[1].legend(fontsize=8)
    fig.suptitle(TITLE)
    write_csv(out_dir / "p2_kernel.csv", rows)
    save_figure(out_dir / "p2_kernel.png", fig)
