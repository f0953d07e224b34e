r"""Exact error of the [DSM] pipeline on one training set, and its average over training sets.

Pipeline (MATH.md section 4): N samples of N(mu, Sigma) -> affine denoiser fitted by
denoising score matching at noise level sigma (closed form) -> its score
s(y) = (D(y) - y)/sigma^2 -> ULA x+ = x + tau s(x) + sqrt(2 tau) z. The score is affine, so
the sampler's stationary law is Gaussian and is read off the ULA step itself
(`stationary_law`); its W2^2 to the data law is exact for that training set. Only the
training set is random: averaging the exact error over independent training sets estimates
E W2^2, which the first-order expansion `dsm_expansion` predicts.
"""

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from sampling import ULA, AffineDenoiser, GaussianLaw, fit_affine_denoiser

from ._distances import w2sq_gaussian
from ._langevin_exact import stationary_law
from ._spectra import check_spectrum

MODELS = ("linear", "affine")


def _check_model(model: str) -> bool:
    if model not in MODELS:
        raise ValueError(f"unknown denoiser model {model!r}; allowed: {', '.join(MODELS)}")
    return model == "affine"


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
        bound = 2.0 / float(np.max(np.linalg.eigvalsh((p + p.T) / 2)))
        if not float(tau) < bound:
            raise ValueError(f"step tau = {float(tau)!r} is at or above the stability bound "
                             f"2 (mu_min(Sigma_hat) + sigma^2) = {bound:.6g} of ULA on the "
                             "learned score: the chain diverges")
    return stationary_law(ULA(denoiser.score_target(), tau), p.shape[0])


def dsm_w2sq(samples, data: GaussianLaw, sigma: float, tau: float, *, model: str = "affine",
             ddof: int = 0) -> float:
    """Exact W2^2 between the pipeline's stationary law (training set `samples`, (N, d)) and
    the data law `data`."""
    denoiser = fit_affine_denoiser(samples, sigma, centred=_check_model(model), ddof=ddof)
    return float(w2sq_gaussian(learned_stationary_law(denoiser, tau), data))


@dataclass(frozen=True)
class DsmMonteCarlo:
    """Exact W2^2 of the pipeline on `n_datasets` independent training sets of `n_samples`
    points of N(0, diag(eigenvalues)): their mean estimates E W2^2."""

    eigenvalues: list
    n_samples: int
    sigma: float
    tau: float
    model: str
    values: list
    mean: float
    standard_error: float

    def to_dict(self) -> dict:
        return asdict(self)


def dsm_monte_carlo(key: PRNGKeyArray, eigenvalues, n_samples: int, sigma: float, tau: float,
                    n_datasets: int, *, model: str = "linear") -> DsmMonteCarlo:
    """Average the exact pipeline error over `n_datasets` training sets drawn with `key`
    (data set i from fold_in(key, i): the numbers do not depend on how many are drawn).

    Every training set is checked for stability on its own: with few samples Sigma_hat can
    have a small eigenvalue and tau can exceed that set's bound (ValueError naming it)."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    _check_model(model)
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if int(n_datasets) != n_datasets or n_datasets < 2:
        raise ValueError(f"n_datasets must be an integer >= 2 (a standard error needs two), "
                         f"got {n_datasets!r}")
    data = GaussianLaw(jnp.zeros(lam.size), jnp.asarray(lam))
    scale = jnp.sqrt(jnp.asarray(lam))
    values = []
    for i in range(int(n_datasets)):
        samples = scale * jax.random.normal(jax.random.fold_in(key, i), (int(n_samples), lam.size))
        values.append(dsm_w2sq(samples, data, sigma, tau, model=model))
    v = np.asarray(values)
    return DsmMonteCarlo(eigenvalues=lam.tolist(), n_samples=int(n_samples), sigma=float(sigma),
                         tau=float(tau), model=model, values=v.tolist(), mean=float(v.mean()),
                         standard_error=float(v.std(ddof=1) / np.sqrt(v.size)))
