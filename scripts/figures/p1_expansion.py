"""P1: exact W2^2 against N with the first-order prediction F/N^2 ([GEO]); their ratio -> 1."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import exact_w2sq, expansion, power_law_spectrum  # noqa: E402
from schedules import make_grid, make_schedule  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "p1_expansion"
TITLE = "P1: exact W2^2 and its first-order prediction (Euler–Maruyama, power:1:20)"
OUTPUTS = ["p1_expansion.png", "p1_expansion.csv"]
CASES = [("edm", "edm"), ("vp", "logsnr"), ("flow", "kl-optimal")]
ETAS = [0.0, 1.0]


def make(out_dir, quick: bool = False) -> None:
    steps = [10, 40, 160, 640] if quick else [10, 20, 40, 80, 160, 320, 640, 1280, 2560]
    lam = power_law_spectrum(1.0, 20)
    rows = {"schedule": [], "grid": [], "eta": [], "steps": [], "w2sq": [], "predicted": [],
            "ratio": []}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    n = np.array(steps, float)
    for schedule_name, grid in CASES:
        schedule = make_schedule(schedule_name)
        for eta in ETAS:
            const = expansion(schedule, lam, grid=grid, eta=eta).frechet_constant
            exact = np.array([exact_w2sq(schedule, lam, make_grid(grid, schedule, k), eta=eta)
                              for k in steps])
            predicted = const / n**2
            label = f"{schedule_name}/{grid}, eta={eta:g}"
            line = axes[0].loglog(n, exact, "o", ms=4)[0]
            axes[0].loglog(n, predicted, "-", color=line.get_color(), lw=1, label=label)
            axes[1].semilogx(n, exact / predicted, "o-", ms=3, color=line.get_color(), label=label)
            for k, e, p in zip(steps, exact, predicted, strict=True):
                for key, v in zip(rows, (schedule_name, grid, eta, k, e, p, e / p), strict=True):
                    rows[key].append(float(v) if isinstance(v, np.floating) else v)
    axes[0].set_xlabel("steps N")
    axes[0].set_ylabel("W2^2 to the exact marginal at t_min")
    axes[0].set_title("exact (dots) vs first order F/N^2 (lines)")
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set_xlabel("steps N")
    axes[1].set_ylabel("exact / predicted")
    axes[1].set_title("ratio tends to 1")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(TITLE)
    write_csv(out_dir / "p1_expansion.csv", rows)
    save_figure(out_dir / "p1_expansion.png", fig)
