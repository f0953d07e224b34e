"""Mirror Langevin on constrained targets ([MLMC]): Monte Carlo bias against h on a Beta and
a Dirichlet target, unadjusted (MLMC scheme) vs Metropolis-adjusted vs Hsieh et al.'s dual
scheme, with error bars; and the mass one Euclidean ULA step sends outside the domain."""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import wasserstein_1d  # noqa: E402
from sampling import (  # noqa: E402
    BetaProduct,
    BoxBarrier,
    Dirichlet,
    DualLangevin,
    EntropySimplex,
    FermiDirac,
    MirrorLangevin,
    MirrorMALA,
    run_langevin,
)

from .._files import save_figure, write_csv  # noqa: E402

NAME = "langevin_mirror"
TITLE = "Mirror Langevin on constrained targets: bias of the first coordinate's law against h"
OUTPUTS = ["langevin_mirror.png", "langevin_mirror.csv", "langevin_outside.csv"]
TARGETS = {  # f is relatively smooth w.r.t. the box barrier, not w.r.t. the entropic maps
    "Beta(2, 5), Fermi-Dirac map": (BetaProduct(2.0, 5.0), FermiDirac()),
    "Beta(2, 5), box log-barrier": (BetaProduct(2.0, 5.0), BoxBarrier(0.0, 1.0)),
    "Dirichlet(2, 3, 4), entropic simplex map": (Dirichlet([2.0, 3.0, 4.0]), EntropySimplex()),
}
KERNELS = {"unadjusted (MLMC)": MirrorLangevin, "Metropolis-adjusted": MirrorMALA,
           "Hsieh dual scheme": DualLangevin}
UNADJUSTED = (MirrorLangevin, DualLangevin)
TIME = 6.0  # chains run K = TIME / h steps from exact samples of the target (not always
# stationary yet for the entropic maps: the bias there still grows with TIME)


@jax.jit
def _outside(target, x, z, h):
    step = x - h * jax.vmap(target.grad_potential)(x) + jnp.sqrt(2 * h) * z
    return 1.0 - jnp.mean(jax.vmap(target.in_domain)(step))


def outside_mass(target, steps, key, n) -> list[float]:
    """P(x - h grad f(x) + sqrt(2h) z leaves the domain), x ~ pi, for each h: one Euclidean
    ULA step from the target (the same draws for every h)."""
    k1, k2 = jr.split(key)
    x = target.sample(k1, n)
    z = jr.normal(k2, x.shape)
    return [float(_outside(target, x, z, h)) for h in steps]


def bias_slope(h, bias, se) -> float:
    """Slope of log|bias| against log h over the three smallest steps whose bias is resolved
    (|bias| > 4 standard errors); NaN when fewer than two are."""
    h, bias, se = (np.asarray(v, float) for v in (h, bias, se))
    keep = np.flatnonzero(np.abs(bias) > 4 * se)
    keep = keep[np.argsort(h[keep])][:3]
    if keep.size < 2:
        return float("nan")
    return float(np.polyfit(np.log(h[keep]), np.log(np.abs(bias[keep])), 1)[0])


def _chain_stats(x, mean, var, quantile):
    n = x.size
    mu4 = np.mean((x - x.mean()) ** 4)
    return (x.mean() - mean, x.std() / np.sqrt(n), x.var(ddof=1) - var,
            np.sqrt(max(mu4 - x.var() ** 2, 0.0) / n), wasserstein_1d(x, quantile))


def _style(ax, title, ylabel):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("step size h")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)


def make(out_dir, quick: bool = False) -> None:
    steps = [0.2, 0.05] if quick else [0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]
    n = 1500 if quick else 40000
    rows = {"target": [], "kernel": [], "step": [], "mean_error": [], "mean_error_se": [],
            "var_error": [], "var_error_se": [], "w2_marginal": [], "w2_floor": [],
            "accepted_fraction": [], "var_slope": []}
    outside = {"target": [], "step": [], "outside_mass": []}
    fig, axes = plt.subplots(2, 4, figsize=(20, 8.2), layout="constrained")
    targets = {k: v for k, v in TARGETS.items() if not (quick and "box" in k)}
    for col, (tname, (target, mirror)) in enumerate(targets.items()):
        quantile = lambda u, t=target: t.marginal_quantile(u, 0)
        exact = np.asarray(target.sample(jr.key(99), n))[:, 0]
        floor = wasserstein_1d(exact, quantile)
        mean, var = target.mean()[0], target.variance()[0]
        x0 = target.sample(jr.key(0), n)
        for kname, kernel_cls in KERNELS.items():
            res = []
            for i, h in enumerate(steps):
                run = run_langevin(jr.key(1 + i), kernel_cls(target, mirror, h), x0,
                                   int(np.ceil(TIME / h)))
                x = np.asarray(run.state.position)[:, 0]
                res.append((*_chain_stats(x, mean, var, quantile),
                            float(run.acceptance_rate.mean())))
            res = np.array(res)
            s = bias_slope(steps, res[:, 2], res[:, 3]) if kernel_cls in UNADJUSTED else np.nan
            for h, r in zip(steps, res, strict=True):
                for key, v in zip(rows, (tname, kname, h, *r[:5], floor, r[5],
                                         s if np.isfinite(s) else ""), strict=True):
                    rows[key].append(v)
            label = kname + (f" (slope {s:.2f})" if np.isfinite(s) else "")
            axes[0, col].errorbar(steps, np.abs(res[:, 0]), yerr=2 * res[:, 1], fmt="o-", ms=4,
                                  capsize=3, label=kname)
            axes[1, col].errorbar(steps, np.abs(res[:, 2]), yerr=2 * res[:, 3], fmt="o-", ms=4,
                                  capsize=3, label=label)
        axes[0, col].axhline(2 * np.std(exact) / np.sqrt(n), color="k", ls=":", lw=1,
                             label="2 standard errors")
        _style(axes[0, col], tname, "|E x_1 - exact| (bars: 2 s.e.)")
        _style(axes[1, col], tname, "|Var x_1 - exact| (bars: 2 s.e.)")
        if tname in set(outside["target"]) or "box" in tname:
            continue
        grid = np.geomspace(1e-4, 0.4, 6 if quick else 16)
        masses = outside_mass(target, grid, jr.key(7), 10000 if quick else 200000)
        for h, mass in zip(grid, masses, strict=True):
            outside["target"].append(tname)
            outside["step"].append(float(h))
            outside["outside_mass"].append(mass)
    ax = axes[0, 3]
    for tname in dict.fromkeys(outside["target"]):
        sel = [i for i, t in enumerate(outside["target"]) if t == tname]
        ax.loglog([outside["step"][i] for i in sel],
                  [max(outside["outside_mass"][i], 1e-6) for i in sel], "o-", ms=3,
                  label=tname.rsplit(", ", 1)[0])
    ax.set_xlabel("step size h")
    ax.set_ylabel("mass outside the domain")
    ax.set_title("one Euclidean ULA step from the target\n(mirror maps: none by construction)",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    for col in range(len(targets), 3):  # quick mode skips the box-barrier column
        axes[0, col].axis("off")
        axes[1, col].axis("off")
    axes[1, 3].axis("off")
    fig.suptitle(TITLE + f" (chains run {TIME:g}/h steps from exact samples)", fontsize=11)
    write_csv(out_dir / "langevin_mirror.csv", rows)
    write_csv(out_dir / "langevin_outside.csv", outside)
    save_figure(out_dir / "langevin_mirror.png", fig)
