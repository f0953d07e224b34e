"""F1: exact W2^2 of Euler–Maruyama against N for several grids, eta = 0 and 1."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import error_curve, power_law_spectrum  # noqa: E402
from sampling import GaussianTarget  # noqa: E402
from schedules import VPLinear  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "error_curves"
TITLE = "Euler–Maruyama: exact W2^2 against N (VP, power:1:100)"
OUTPUTS = ["error_curves.png", "error_curves.csv"]
GRIDS = ["uniform", "quadratic", "edm", "logsnr", "kl-optimal"]
ETAS = [0.0, 1.0]


def make(out_dir, quick: bool = False) -> None:
    steps = [8, 16, 32, 64, 128] if quick else [8, 16, 32, 64, 128, 256, 512, 1024]
    schedule = VPLinear()
    target = GaussianTarget(power_law_spectrum(1.0, 100))
    rows = {"grid": [], "eta": [], "steps": [], "w2sq": [], "kl": []}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, eta in zip(axes, ETAS, strict=True):
        for grid in GRIDS:
            curve = error_curve(target, schedule, steps, grid=grid, eta=eta)
            ax.loglog(curve.steps, curve.w2sq, "o-", ms=3, label=grid)
            for n, w, k in zip(curve.steps, curve.w2sq, curve.kl, strict=True):
                rows["grid"].append(grid)
                rows["eta"].append(eta)
                rows["steps"].append(n)
                rows["w2sq"].append(w)
                rows["kl"].append(k)
        n = np.array(steps, float)
        anchor = np.median([rows["w2sq"][i] for i in range(len(rows["w2sq"]))
                            if rows["eta"][i] == eta and rows["steps"][i] == steps[-1]])
        ax.loglog(n, anchor * (n / n[-1]) ** -2.0, "k--", lw=1, label="slope -2")
        ax.set_title(f"eta = {eta:g} ({'probability-flow ODE' if eta == 0 else 'reverse SDE'})")
        ax.set_xlabel("steps N")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("exact W2^2 to the marginal at t_min")
    axes[1].legend(fontsize=8)
    fig.suptitle(TITLE)
    write_csv(out_dir / "error_curves.csv", rows)
    save_figure(out_dir / "error_curves.png", fig)
