"""Exact bias of ULA, preconditioned ULA and Newton–Langevin on A = diag(1..100) ([MLMC]):
stationary W2 against h, and W2 against the iteration count at a fixed h."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import langevin_curve  # noqa: E402
from sampling import MALA, GaussianPotential, run_langevin  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "langevin_gaussian"
TITLE = "Langevin on N(0, A^-1), A = diag(1..100): exact W2 to the target"
OUTPUTS = ["langevin_bias.png", "langevin_bias.csv", "langevin_iterations.png",
           "langevin_iterations.csv", "langevin_mala.png", "langevin_mala.csv"]
PRECISION = np.arange(1.0, 101.0)
EIGENVALUES = 1.0 / PRECISION  # covariance eigenvalues
SAMPLERS = {  # label -> mirror spec (M = I, M = A^(1/2), M = A)
    "ULA (M = I)": "identity",
    "preconditioned ULA (M = A^1/2)": "diag:" + ",".join(f"{v:.17g}" for v in np.sqrt(PRECISION)),
    "Newton-Langevin (M = A)": "newton",
}


def slope(h, w) -> float:
    """Least-squares slope of log W2 against log h over the smallest half of the steps."""
    h, w = np.asarray(h), np.asarray(w)
    keep = h <= np.median(h)
    return float(np.polyfit(np.log(h[keep]), np.log(w[keep]), 1)[0])


def make(out_dir, quick: bool = False) -> None:
    n_h = 12 if quick else 40
    bias = {"sampler": [], "step": [], "w2": [], "kl": [], "stability_bound": [], "slope": []}
    iters = {"sampler": [], "step": [], "iterations": [], "w2": []}
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    fig2, ax2 = plt.subplots(figsize=(6.2, 4.4))
    ks = np.unique(np.geomspace(1, 20000 if quick else 200000, 25 if quick else 60).astype(int))
    for label, mirror in SAMPLERS.items():
        bound = langevin_curve(EIGENVALUES, mirror, [1e-6]).stability_bound
        steps = np.geomspace(1e-5 * bound, 0.95 * bound, n_h)
        curve = langevin_curve(EIGENVALUES, mirror, steps)
        s = slope(steps, curve.w2)
        ax.loglog(steps, curve.w2, "o-", ms=3, label=f"{label}: slope {s:.3f}, h < {bound:.3g}")
        for h, w, k in zip(steps, curve.w2, curve.kl, strict=True):
            for key, v in zip(bias, (label, h, w, k, bound, s), strict=True):
                bias[key].append(v)
        h = 0.01
        ws = [langevin_curve(EIGENVALUES, mirror, [h], iterations=int(k)).w2[0] for k in ks]
        ax2.loglog(ks, ws, "-", label=label)
        for k, w in zip(ks, ws, strict=True):
            for key, v in zip(iters, (label, h, int(k), w), strict=True):
                iters[key].append(v)
    ax.set_xlabel("step size h")
    ax.set_ylabel("stationary W2 to the target (exact)")
    ax.set_title("bias against h (each curve up to its stability bound)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(TITLE, fontsize=10)
    ax2.set_xlabel("iterations K (start x_0 = 0)")
    ax2.set_ylabel("W2 of the law after K steps (exact)")
    ax2.set_title("h = 0.01: contraction, then the stationary bias", fontsize=10)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    fig2.suptitle(TITLE, fontsize=10)
    mala_acceptance(out_dir, quick)
    write_csv(out_dir / "langevin_bias.csv", bias)
    save_figure(out_dir / "langevin_bias.png", fig)
    write_csv(out_dir / "langevin_iterations.csv", iters)
    save_figure(out_dir / "langevin_iterations.png", fig2)


def mala_acceptance(out_dir, quick: bool) -> None:
    """Monte Carlo MALA acceptance rate against h, chains started at the target (d = 100)."""
    target = GaussianPotential(PRECISION)
    n, k = (200, 10) if quick else (2000, 20)
    x0 = jr.normal(jr.key(0), (n, PRECISION.size)) / jnp.sqrt(PRECISION)
    steps = np.geomspace(1e-4, 0.05, 8 if quick else 16)
    rows = {"step": [], "acceptance": [], "acceptance_se": []}
    for i, h in enumerate(steps):
        rate = np.asarray(run_langevin(jr.key(1 + i), MALA(target, h), x0, k).acceptance_rate)
        rows["step"].append(float(h))
        rows["acceptance"].append(float(rate.mean()))
        rows["acceptance_se"].append(float(rate.std() / np.sqrt(n)))
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    ax.errorbar(rows["step"], rows["acceptance"], yerr=2 * np.array(rows["acceptance_se"]),
                fmt="o-", ms=3, capsize=3)
    ax.axvline(0.02, color="k", ls=":", lw=1, label="ULA stability bound 2/lambda_max(A)")
    ax.set_xscale("log")
    ax.set_xlabel("step size h")
    ax.set_ylabel("mean acceptance probability (bars: 2 s.e.)")
    ax.set_title("MALA on N(0, A^-1), A = diag(1..100), started at the target", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    write_csv(out_dir / "langevin_mala.csv", rows)
    save_figure(out_dir / "langevin_mala.png", fig)
