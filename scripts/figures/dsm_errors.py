"""[DSM]: error of score matching then Langevin in the Gaussian setting. Which eigenvalues
the population bias falls on; E W2^2 against the training-set size N (exact per training set,
averaged over sets, against bias + V1/N); the best noise level against N; SGD's coefficient;
and a diffusion sampler on the learned score, training error against step count."""

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import (  # noqa: E402
    dsm_best_sigma,
    dsm_diagonal_expected_w2sq,
    dsm_diffusion_monte_carlo,
    dsm_expansion,
    dsm_monte_carlo,
    dsm_population_kernel,
    dsm_sgd_moments,
    dsm_sgd_stationary_moments,
    power_law_spectrum,
)
from schedules import EDM  # noqa: E402

from .._files import save_figure, write_csv  # noqa: E402

NAME = "dsm_errors"
TITLE = ("[DSM] score matching on N samples, then ULA (noise level sigma, step tau) or a diffusion "
         "sampler on the learned score (Gaussian data)")
OUTPUTS = ["dsm_errors.png", "dsm_kernel.csv", "dsm_vs_n.csv", "dsm_best_sigma.csv",
           "dsm_sgd.csv", "dsm_diffusion.csv"]
KERNEL_CASES = [(0.1, 0.0), (0.1, 0.02), (0.3, 0.0)]  # (sigma, tau)
SIGMA, TAU = 0.1, 0.01  # the E W2^2 against N panel
TAUS_BEST = [0.0, 0.1]  # the best-sigma panel (power:1:20 has eigenvalues below 0.1)


def _kernel_panel(ax):
    lam = np.geomspace(1e-3, 10.0, 121)
    rows = {"sigma": [], "tau": [], "eigenvalue": [], "kernel": [], "asymptote": []}
    for sigma, tau in KERNEL_CASES:
        k = dsm_population_kernel(lam, sigma, tau)
        asym = (sigma**2 + tau / 2) ** 2 / (4 * lam)
        line = ax.loglog(lam, k, label=f"sigma = {sigma:g}, tau = {tau:g}")[0]
        ax.loglog(lam, asym, ":", color=line.get_color())
        for v, kv, a in zip(lam, k, asym, strict=True):
            for key, x in zip(rows, (sigma, tau, float(v), float(kv), float(a)), strict=True):
                rows[key].append(x)
    ax.set_xlabel("data eigenvalue lambda")
    ax.set_ylabel("population bias k(lambda)")
    ax.set_title("bias per eigenvalue; dotted: (sigma^2 + tau/2)^2 / (4 lambda)", fontsize=9)
    ax.legend(fontsize=7)
    return rows


def _n_panel(ax, quick):
    lam = power_law_spectrum(1.0, 10)
    ns = [50, 100, 200, 400, 800] if quick else [50, 100, 200, 400, 800, 1600, 3200]
    n_sets = 40 if quick else 300
    rows = {"model": [], "n_samples": [], "monte_carlo": [], "standard_error": [],
            "expansion": [], "bias": [], "diagonal_model": []}
    for model in ("linear", "affine"):
        mc = [dsm_monte_carlo(jax.random.key(7), lam, n, SIGMA, TAU, n_sets,
                              centred=model == "affine")
              for n in ns]
        exp = [dsm_expansion(lam, n, SIGMA, TAU, centred=model == "affine") for n in ns]
        diag = [float(dsm_diagonal_expected_w2sq(lam, n, SIGMA, TAU)) if model == "linear"
                else float("nan") for n in ns]
        means = np.array([m.mean for m in mc])
        ses = np.array([m.standard_error for m in mc])
        line = ax.errorbar(ns, means, yerr=2 * ses, fmt="o", ms=4, capsize=3,
                           label=f"{model}: exact, mean over {n_sets} training sets (2 s.e.)")[0]
        ax.loglog(ns, [e.w2sq_expansion for e in exp], "-", color=line.get_color(),
                  label=f"{model}: bias + V1/N")
        for n, m, e, dg in zip(ns, mc, exp, diag, strict=True):
            values = (model, n, m.mean, m.standard_error, e.w2sq_expansion, e.bias, dg)
            for key, x in zip(rows, values, strict=True):
                rows[key].append(x)
    ax.axhline(exp[0].bias, color="k", lw=0.8, ls="--", label="population bias (N = infinity)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples N")
    ax.set_ylabel("E W2^2 to the data law")
    ax.set_title(f"power:1:10, sigma = {SIGMA:g}, tau = {TAU:g}", fontsize=9)
    ax.legend(fontsize=6)
    return rows


def _best_sigma_panel(ax, quick):
    lam = power_law_spectrum(1.0, 20)
    ns = np.geomspace(10, 1e5, 9 if quick else 25).round().astype(int)
    rows = {"tau": [], "n_samples": [], "best_sigma": [], "w2sq_expansion": []}
    for tau in TAUS_BEST:
        best = [dsm_best_sigma(lam, int(n), tau) for n in ns]
        sig2 = [b[0] ** 2 for b in best]
        line = ax.loglog(ns, sig2, "o-", ms=3, label=f"tau = {tau:g}")[0]
        if tau > 0:
            ax.axhline(tau, color=line.get_color(), ls=":", lw=1, label=f"sigma^2 = tau = {tau:g}")
        for n, (s, e) in zip(ns, best, strict=True):
            for key, x in zip(rows, (tau, int(n), s, e), strict=True):
                rows[key].append(x)
    last_tau0 = rows["best_sigma"][len(ns) - 1] ** 2  # tau = 0 at the largest N
    guide = last_tau0 * (ns / ns[-1]) ** -1.0
    ax.loglog(ns, guide, "k--", lw=0.8, label="slope -1 (sigma ~ N^-1/2)")
    ax.set_xlabel("training samples N")
    ax.set_ylabel("best sigma^2 (minimises bias + V1/N)")
    ax.set_title("power:1:20 (lambda_min = 0.05)", fontsize=9)
    ax.legend(fontsize=7)
    return rows


def _sgd_panel(ax, quick):
    lam, sigma, theta0 = 0.5, 0.3, 0.0
    steps = 200 if quick else 400
    rows = {"gamma": [], "step": [], "theta_mean": [], "theta_variance": [],
            "stationary_variance": []}
    for gamma in (0.05, 0.2, 0.5):
        mean, var = dsm_sgd_moments(lam, sigma, gamma, theta0, steps)
        _, var_inf = dsm_sgd_stationary_moments(lam, sigma, gamma)
        line = ax.semilogy(np.arange(steps + 1), var, label=f"gamma = {gamma:g}")[0]
        ax.axhline(float(var_inf), color=line.get_color(), ls=":", lw=1)
        for k in range(steps + 1):
            values = (gamma, k, float(mean[k]), float(var[k]), float(var_inf))
            for key, x in zip(rows, values, strict=True):
                rows[key].append(x)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("Var theta_k (exact moment recursion)")
    ax.set_title(f"online SGD, one direction: lambda = {lam:g}, sigma = {sigma:g}; "
                 "dotted: stationary", fontsize=9)
    ax.legend(fontsize=7)
    return rows


def _diffusion_panel(ax, quick):
    lam = power_law_spectrum(1.0, 10)
    ns = [20, 50, 100, 200, 400, 800] if quick else [20, 50, 100, 200, 400, 800, 1600, 3200]
    steps = [10, 40, 160, None]
    n_sets = 20 if quick else 100
    rows = {"n_samples": [], "steps": [], "mean": [], "standard_error": [], "expansion": []}
    results = [dsm_diffusion_monte_carlo(jax.random.key(11), lam, n, EDM(), steps, n_sets,
                                         centred=True) for n in ns]
    expansion = [dsm_expansion(lam, n, 0.0, 0.0, centred=True).w2sq_expansion for n in ns]
    for j, k in enumerate(steps):
        means = [r["mean"][j] for r in results]
        ses = [r["standard_error"][j] for r in results]
        ax.errorbar(ns, means, yerr=[2 * e for e in ses], fmt="o-", ms=3, capsize=2,
                    label="continuous time" if k is None else f"{k} Euler steps")
        for n, m, e, x in zip(ns, means, ses, expansion, strict=True):
            for key, v in zip(rows, (n, "inf" if k is None else k, m, e, x), strict=True):
                rows[key].append(v)
    ax.loglog(ns, expansion, "k--", lw=0.8, label="sigma = tau = 0 expansion (V1/N)")
    ax.set_xlabel("training samples N")
    ax.set_ylabel("E W2^2 to the data law")
    ax.set_title(f"PF-ODE on the learned score (EDM, rho = 7), affine model, power:1:10; "
                 f"{n_sets} training sets", fontsize=9)
    ax.legend(fontsize=7)
    return rows


def make(out_dir, quick: bool = False) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(18, 9.5), layout="constrained")
    axes = axes.ravel()
    kernel = _kernel_panel(axes[0])
    vs_n = _n_panel(axes[1], quick)
    best = _best_sigma_panel(axes[2], quick)
    sgd = _sgd_panel(axes[3], quick)
    diffusion = _diffusion_panel(axes[4], quick)
    axes[5].axis("off")
    fig.suptitle(TITLE)
    write_csv(out_dir / "dsm_kernel.csv", kernel)
    write_csv(out_dir / "dsm_vs_n.csv", vs_n)
    write_csv(out_dir / "dsm_best_sigma.csv", best)
    write_csv(out_dir / "dsm_sgd.csv", sgd)
    write_csv(out_dir / "dsm_diffusion.csv", diffusion)
    save_figure(out_dir / "dsm_errors.png", fig)
