"""Mirror Langevin on constrained targets ([MLMC]): Monte Carlo bias against h on a Beta and
a Dirichlet target, unadjusted (MLMC scheme) vs Metropolis-adjusted, with error bars; and
the mass one Euclidean ULA step sends outside the domain."""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import wasserstein_1d  # noqa: E402
from sampling import (  # noqa: E402
    BetaProduct,
    BoxBarrier,
    Dirichlet,
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
KERNELS = {"unadjusted (MLMC)": MirrorLangevin, "Metropolis-adjusted": MirrorMALA}
TIME = 6.0  # chains run K = TIME / h steps from exact samples of the target (not always
# stationary yet for the entropic maps: the bias there still grows with TIME)


@jax.jit
def _outside(target, x, z, h):
    step = x - h * jax.vmap(target.grad_potential)(x) + jnp.sqrt(2 * h) * z
    return 1.0 - jnp.mean(jax.vmap(target.in_domain)(step))


def outside_mass(target, h, key, n) -> float:
    """P(x - h grad f(x) + sqrt(2h) z leaves the domain), x ~ pi: one Euclidean ULA step."""
    k1, k2 = jr.split(key)
    x = target.sample(k1, n)
    return float(_outside(target, x, jr.normal(k2, x.shape), h))


def bias_slope(h, bias) -> float:
    """Slope of log|bias| against log h over the three smallest steps."""
    order = np.argsort(h)[:3]
    h, bias = np.asarray(h)[order], np.abs(np.asarray(bias))[order]
    return float(np.polyfit(np.log(h), np.log(bias), 1)[0])


def make(out_dir, quick: bool = False) -> None:
    steps = [0.2, 0.1, 0.05] if quick else [0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]
    n = 2000 if quick else 40000
    rows = {"target": [], "kernel": [], "step": [], "mean_error": [], "mean_error_se": [],
            "var_error": [], "w2_marginal": [], "w2_floor": [], "accepted_fraction": [], "slope": []}
    outside = {"target": [], "step": [], "outside_mass": []}
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.3))
    for ax, (tname, (target, mirror)) in zip(axes, TARGETS.items(), strict=False):
        quantile = lambda u, t=target: t.marginal_quantile(u, 0)
        exact = np.asarray(target.sample(jr.key(99), n))[:, 0]
        floor = wasserstein_1d(exact, quantile)
        mean, var = target.mean()[0], target.variance()[0]
        for kname, kernel_cls in KERNELS.items():
            x0 = target.sample(jr.key(0), n)
            res = []
            for i, h in enumerate(steps):
                run = run_langevin(jr.key(1 + i), kernel_cls(target, mirror, h), x0,
                                   int(np.ceil(TIME / h)))
                x = np.asarray(run.state.position)[:, 0]
                res.append((x.mean() - mean, x.std() / np.sqrt(n), x.var() - var,
                            wasserstein_1d(x, quantile), float(run.acceptance_rate.mean())))
            res = np.array(res)
            s = bias_slope(steps, res[:, 0]) if kernel_cls is MirrorLangevin else float("nan")
            for h, r in zip(steps, res, strict=True):
                for key, v in zip(rows, (tname, kname, h, *r[:4], floor, r[4],
                                         s if np.isfinite(s) else ""), strict=True):
                    rows[key].append(v)
            label = kname + (f" (slope {s:.2f})" if np.isfinite(s) else "")
            ax.errorbar(steps, np.abs(res[:, 0]), yerr=2 * res[:, 1], fmt="o-", ms=4,
                        capsize=3, label=label)
        ax.axhline(2 * np.std(exact) / np.sqrt(n), color="k", ls=":", lw=1,
                   label="2 standard errors")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step size h")
        ax.set_ylabel("|E x_1 - exact| (bars: 2 s.e.)")
        ax.set_title(tname, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        if tname in {t for t in outside["target"]} or "box" in tname:
            continue
        for h in np.geomspace(1e-4, 0.4, 8 if quick else 16):
            outside["target"].append(tname)
            outside["step"].append(float(h))
            outside["outside_mass"].append(outside_mass(target, h, jr.key(7), 20000 if quick
                                                        else 200000))
    ax = axes[3]
    for tname in dict.fromkeys(outside["target"]):
        sel = [i for i, t in enumerate(outside["target"]) if t == tname]
        ax.loglog([outside["step"][i] for i in sel],
                  [max(outside["outside_mass"][i], 1e-6) for i in sel], "o-", ms=3,
                  label=tname.rsplit(", ", 1)[0])
    ax.set_xlabel("step size h")
    ax.set_ylabel("mass outside the domain")
    ax.set_title("one Euclidean ULA step from the target\n(mirror maps: none by construction)",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(TITLE, fontsize=11)
    write_csv(out_dir / "langevin_mirror.csv", rows)
    write_csv(out_dir / "langevin_outside.csv", outside)
    save_figure(out_dir / "langevin_mirror.png", fig)
