r"""Exact error of the [DSM] pipeline on one training set, and its average over training sets.

Pipeline (MATH.md section 4): N samples of N(mu, Sigma) -> affine denoiser fitted by
denoising score matching at noise level sigma (closed form) -> its score
s(y) = (D(y) - y)/sigma^2 -> ULA x+ = x + tau s(x) + sqrt(2 tau) z. The score is affine, so
the sampler's stationary law is Gaussian and is read off the ULA step itself
(`stationary_law`); its W2^2 to the data law is exact for that training set. Only the
training set is random: averaging the exact error over independent training sets estimates
E W2^2, which the first-order expansion `dsm_expansion` predicts.

Diffusion samplers on a learned score ([DSM]'s diffusion extension, MATH.md sections 2 and 4):
at every noise level the best affine denoiser of x from x_t = alpha x + sigma w on the training
set is the linear MMSE estimator of the empirical law, and by Tweedie its score is exactly that
of the forward marginal of N(xbar, Sigma_hat) (derived here). A reverse-time sampler driven by
that score therefore has the exact law of `exact_law_per_direction` on the Gaussian target
N(xbar, Sigma_hat), in the eigenbasis of Sigma_hat; its W2^2 to the data law adds the training
error (N samples) to the discretization error (n steps).
"""

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from sampling import (
    ULA,
    AffineDenoiser,
    GaussianLaw,
    GaussianTarget,
    empirical_moments,
    fit_affine_denoiser,
)
from schedules import AbstractSchedule

from ._distances import w2sq_gaussian
from ._dsm import _check_stable, _integer_at_least
from ._error_curve import resolve_grid
from ._exact_law import check_finite_law, exact_law_per_direction
from ._langevin_exact import stationary_law
from ._spectra import check_spectrum
from ._sweep import resolve_solver


def learned_stationary_law(denoiser: AffineDenoiser, tau: float) -> GaussianLaw:
    r"""Exact stationary law of ULA with step `tau` on the denoiser's score.

    For the closed-form fit this is N(xbar, g(Sigma_hat)), g(mu) = (mu + sigma^2)^2 /
    (mu + sigma^2 - tau/2) in the eigenbasis of Sigma_hat ([DSM]). Stable iff
    tau < 2 / lambda_max(P), P = (I - W)/sigma^2 (= 2 (mu_min(Sigma_hat) + sigma^2) for the
    closed-form fit); a step at or above the bound raises ValueError naming it.
    """
    precision, _ = denoiser.precision_and_mean()
    p = np.asarray(precision)
    if np.allclose(p, p.T, rtol=1e-12, atol=0.0):
        # P = (Sigma_hat + sigma^2 I)^-1: the bound is the one of `dsm_stationary_variance`.
        mu_min = 1.0 / float(np.max(np.linalg.eigvalsh((p + p.T) / 2))) - denoiser.sigma**2
        _check_stable(mu_min, denoiser.sigma, float(tau), "mu_min(Sigma_hat)")
    return stationary_law(ULA(denoiser.score_target(), tau), p.shape[0])


def dsm_w2sq(samples, data: GaussianLaw, sigma: float, tau: float, *, centred: bool = False,
             ddof: int = 0) -> float:
    """Exact W2^2 between the pipeline's stationary law (training set `samples`, (N, d)) and
    the data law `data`. `centred`: the affine model (mean estimated) instead of the linear
    one (known mean 0), as in `fit_affine_denoiser` and `dsm_expansion`."""
    denoiser = fit_affine_denoiser(samples, sigma, centred=bool(centred), ddof=ddof)
    return float(w2sq_gaussian(learned_stationary_law(denoiser, tau), data))


def _training_sets(key, eigenvalues, n_samples, n_datasets):
    """(eigenvalues, the data law N(0, diag(eigenvalues)), an iterator over `n_datasets`
    training sets of `n_samples` rows). Set i comes from fold_in(key, i), so it does not
    depend on how many sets are drawn."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    n_samples = _integer_at_least("n_samples", n_samples, 2)
    n_datasets = _integer_at_least("n_datasets", n_datasets, 2)  # a standard error needs two
    scale = np.sqrt(lam)
    sets = (scale * np.asarray(jax.random.normal(jax.random.fold_in(key, i),
                                                 (int(n_samples), lam.size)))
            for i in range(int(n_datasets)))
    return lam, GaussianLaw(jnp.zeros(lam.size), jnp.asarray(lam)), sets


@dataclass(frozen=True)
class DsmMonteCarlo:
    """Exact W2^2 of the pipeline on `n_datasets` independent training sets of `n_samples`
    points of N(0, diag(eigenvalues)): their mean estimates E W2^2."""

    eigenvalues: list
    n_samples: int
    sigma: float
    tau: float
    centred: bool
    values: list
    mean: float
    standard_error: float

    def to_dict(self) -> dict:
        return asdict(self)


def dsm_monte_carlo(key: PRNGKeyArray, eigenvalues, n_samples: int, sigma: float, tau: float,
                    n_datasets: int, *, centred: bool = False) -> DsmMonteCarlo:
    """Average the exact pipeline error over `n_datasets` training sets drawn with `key`
    (data set i from fold_in(key, i): the numbers do not depend on how many are drawn).

    Every training set is checked for stability on its own: with few samples Sigma_hat can
    have a small eigenvalue and tau can exceed that set's bound (ValueError naming it)."""
    lam, data, sets = _training_sets(key, eigenvalues, n_samples, n_datasets)
    values = [dsm_w2sq(samples, data, sigma, tau, centred=centred) for samples in sets]
    v = np.asarray(values)
    return DsmMonteCarlo(eigenvalues=lam.tolist(), n_samples=int(n_samples), sigma=float(sigma),
                         tau=float(tau), centred=bool(centred), values=v.tolist(), mean=float(v.mean()),
                         standard_error=float(v.std(ddof=1) / np.sqrt(v.size)))


def learned_gaussian_target(samples, *, centred: bool = True) -> GaussianTarget:
    """N(xbar, Sigma_hat) (1/N covariance; xbar = 0 when not `centred`, the linear model): the
    Gaussian whose exact score, at every noise level of every schedule, is the score of the
    affine denoiser that minimises the DSM loss on `samples` (N, d) at that level. Needs a
    non-singular Sigma_hat (N > d for the affine model, N >= d for the linear one)."""
    xbar, cov = (np.asarray(m) for m in empirical_moments(samples, centred=centred))
    mu, u = np.linalg.eigh(cov)
    if not mu[0] > 1e-12 * mu[-1]:
        n, d = np.shape(samples)
        raise ValueError(f"the empirical covariance of N = {n} samples in d = {d} "
                         f"is singular (smallest eigenvalue {mu[0]:.3g}); a learned score at every "
                         "noise level needs N > d")
    return GaussianTarget(mu, u, xbar)


def dsm_diffusion_w2sq(samples, data: GaussianLaw, schedule: AbstractSchedule,
                       n_steps: int | None, *, grid="edm", rho: float = 7.0, solver="euler",
                       eta=0.0, centred: bool = True) -> float:
    """Exact W2^2 between `data` and the output of a reverse-time sampler (schedule, grid,
    solver, eta, `n_steps` steps) driven by the score learned from `samples`, started from
    the learned model's marginal at t_max. `n_steps=None` is the continuous-time limit: the
    learned model's marginal at t_min."""
    learned = learned_gaussian_target(samples, centred=centred)
    if n_steps is None:
        law = learned.marginal(schedule, schedule.t_min)
    else:
        g = resolve_grid(grid, schedule, n_steps, rho)
        start = learned.marginal_in_eigenbasis(schedule, g[0])
        law = exact_law_per_direction(learned, schedule, eta, g, resolve_solver(solver), start)
        law = check_finite_law(law.rotate(learned.basis()), "the sampler on the learned score")
    return float(w2sq_gaussian(law, data))


def dsm_diffusion_monte_carlo(key: PRNGKeyArray, eigenvalues, n_samples: int,
                              schedule: AbstractSchedule, steps, n_datasets: int,
                              **sampler) -> dict:
    """For each step count in `steps` (None: continuous time), the mean and standard error of
    `dsm_diffusion_w2sq` over `n_datasets` training sets of N(0, diag(eigenvalues)) drawn as in
    `dsm_monte_carlo`. `sampler`: grid, rho, solver, eta, centred."""
    _, data, sets = _training_sets(key, eigenvalues, n_samples, n_datasets)
    values = np.array([[dsm_diffusion_w2sq(samples, data, schedule, n, **sampler)
                        for n in steps] for samples in sets]).T  # (steps, datasets)
    return {"steps": list(steps), "mean": values.mean(axis=1).tolist(),
            "standard_error": (values.std(axis=1, ddof=1) / np.sqrt(n_datasets)).tolist()}
