"""P3: exact W2^2 against eta in [0, 1.5] for spectra of different decay; eta* marked."""

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import (  # noqa: E402
    cancelling_eta,
    digits_spectrum,
    exact_w2sq_function,
    optimize_eta,
    power_law_spectrum,
)
from schedules import EDM, make_grid  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "p3_eta"
TITLE = "P3: exact W2^2 against eta (EDM schedule, rho = 7 grid, Euler–Maruyama)"
OUTPUTS = ["p3_eta.png", "p3_eta.csv"]


def spectra(dim: int) -> dict[str, np.ndarray]:
    return {f"power alpha={a:g}": power_law_spectrum(a, dim) for a in (0.5, 1.0, 2.0)} | {
        "digits": digits_spectrum()}


def make(out_dir, quick: bool = False) -> None:
    schedule = EDM()
    steps = [20] if quick else [10, 20, 50]
    etas = np.linspace(0.0, 1.5, 31 if quick else 151)
    rows = {"spectrum": [], "steps": [], "eta": [], "w2sq": [], "best_eta": []}
    fig, axes = plt.subplots(1, len(steps), figsize=(5.5 * len(steps), 4.5), squeeze=False)
    for ax, n in zip(axes[0], steps, strict=True):
        grid = make_grid("edm", schedule, n)
        for label, lam in spectra(100 if quick else 1000).items():
            f = exact_w2sq_function(schedule, lam)
            value = jax.jit(lambda e, f=f, g=grid: f(g, e))
            w2 = np.array([float(value(jnp.asarray(e))) for e in etas])
            best = optimize_eta(schedule, lam, n, grid="edm").parameters["eta"]
            line = ax.semilogy(etas, w2, label=f"{label} (best {best:.3f})")[0]
            ax.axvline(best, color=line.get_color(), ls=":", lw=1)
            for e, w in zip(etas, w2, strict=True):
                for key, x in zip(rows, (label, n, float(e), float(w), best), strict=True):
                    rows[key].append(x)
        ax.axvline(float(cancelling_eta(7.0)), color="k", ls="--", lw=1,
                   label="eta* = 1/(2 rho - 1)")
        ax.set_title(f"N = {n}")
        ax.set_xlabel("eta")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("exact W2^2")
    fig.suptitle(TITLE)
    write_csv(out_dir / "p3_eta.csv", rows)
    save_figure(out_dir / "p3_eta.png", fig)
