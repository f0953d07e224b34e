"""P4: exact W2^2 against the EDM rho for several spectra; the optimum marked."""

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import exact_w2sq_function, optimize_edm_rho  # noqa: E402
from schedules import EDM, edm_grid  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402
from .p3_eta import spectra  # noqa: E402

NAME = "p4_rho"
TITLE = "P4: exact W2^2 against the EDM rho (EDM schedule, Euler–Maruyama, N = 20)"
OUTPUTS = ["p4_rho.png", "p4_rho.csv"]
ETAS = [0.0, 1.0]


def make(out_dir, quick: bool = False) -> None:
    schedule = EDM()
    n = 20
    rhos = np.geomspace(1.0, 60.0, 20 if quick else 60)
    rows = {"spectrum": [], "eta": [], "rho": [], "w2sq": [], "best_rho": []}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, eta in zip(axes, ETAS, strict=True):
        for label, lam in spectra(100 if quick else 1000).items():
            value = jax.jit(exact_w2sq_function(schedule, lam, "euler", eta))
            w2 = np.array([float(value(edm_grid(schedule, n, float(r)))) for r in rhos])
            best = optimize_edm_rho(schedule, lam, n, eta=eta, bounds=(1.0, 60.0))
            rho = best.parameters["rho"]
            line = ax.loglog(rhos, w2, label=f"{label} (best rho {rho:.3g})")[0]
            ax.plot([rho], [best.w2sq], "*", ms=10, color=line.get_color())
            for r, w in zip(rhos, w2, strict=True):
                for key, x in zip(rows, (label, eta, float(r), float(w), rho), strict=True):
                    rows[key].append(x)
        ax.axvline(7.0, color="k", ls="--", lw=0.8, label="rho = 7 (EDM default)")
        ax.set_title(f"eta = {eta:g}")
        ax.set_xlabel("rho")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("exact W2^2")
    fig.suptitle(TITLE)
    write_csv(out_dir / "p4_rho.csv", rows)
    save_figure(out_dir / "p4_rho.png", fig)
