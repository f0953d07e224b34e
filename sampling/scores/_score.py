"""Score models: Equinox modules with the one call signature score(x, t)."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from schedules import AbstractSchedule, is_concrete

from ..targets._gaussian import GaussianTarget


class AbstractScoreModel(eqx.Module):
    """A model of the score grad log p_t(x) of the forward marginals.

    Called on one state x of shape (d,) and a scalar time t; batch with jax.vmap.
    """

    @abc.abstractmethod
    def __call__(self, x: Array, t: ArrayLike) -> Array:
        """The score at state x and time t."""


class GaussianScore(AbstractScoreModel):
    r"""The exact score of Gaussian data under a schedule,
    $s(x,t) = -(\alpha^2\Sigma + \sigma^2 I)^{-1}(x - \alpha\mu)$."""

    target: GaussianTarget
    schedule: AbstractSchedule

    def __call__(self, x, t):
        return self.target.score(x, t, self.schedule)


def score_from_epsilon(eps: Array, sigma: ArrayLike) -> Array:
    r"""Score of a noise prediction: $s = -\hat\varepsilon/\sigma$ (x_t = alpha x_0 + sigma eps)."""
    return -eps / sigma


def score_from_denoiser(denoised: Array, x: Array, alpha: ArrayLike, sigma: ArrayLike) -> Array:
    r"""Score of a data prediction (Tweedie): $s = (\alpha \hat x_0 - x)/\sigma^2$."""
    return (alpha * denoised - x) / sigma**2


def _check_finite(name: str, value) -> None:
    if is_concrete(value) and not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{name} must be finite")


class GaussianMixtureScore(AbstractScoreModel):
    r"""The exact score of a mixture of Gaussians $\sum_k w_k N(\mu_k, \Sigma_k)$ under a
    schedule. Its forward marginal is the mixture $\sum_k w_k N(\alpha\mu_k, C_k)$,
    $C_k = \alpha^2\Sigma_k + \sigma^2 I$, so
    $s(x,t) = -\sum_k r_k(x)\, C_k^{-1}(x - \alpha\mu_k)$ with responsibilities
    $r = \mathrm{softmax}_k(\log w_k + \log N(x; \alpha\mu_k, C_k))$, computed by
    log-sum-exp (stable far from every component).

    `weights` (K,) > 0 (normalised here), `means` (K, d), `covariances` (K, d, d)
    symmetric positive definite or (K, d) variances (diagonal components).
    """

    weights: Array
    means: Array
    covariances: Array
    schedule: AbstractSchedule

    def __init__(self, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike,
                 schedule: AbstractSchedule):
        w = jnp.asarray(weights, float)
        mu = jnp.asarray(means, float)
        cov = jnp.asarray(covariances, float)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
        k = w.shape[0]
        if mu.ndim != 2 or mu.shape[0] != k:
            raise ValueError(f"means must have shape ({k}, d) for {k} weights, got {mu.shape}")
        d = mu.shape[1]
        if cov.shape == (k, d):
            cov = jax.vmap(jnp.diag)(cov)
        if cov.shape != (k, d, d):
            raise ValueError(f"covariances must have shape ({k}, {d}, {d}) or ({k}, {d}), "
                             f"got {cov.shape}")
        for name, value in (("weights", w), ("means", mu), ("covariances", cov)):
            _check_finite(name, value)
        if is_concrete(w) and np.any(np.asarray(w) <= 0):
            raise ValueError(f"weights must be > 0, got {np.asarray(w).tolist()}")
        if is_concrete(cov):
            c = np.asarray(cov)
            if not np.allclose(c, np.swapaxes(c, 1, 2), rtol=1e-10, atol=1e-12):
                raise ValueError("covariances must be symmetric")
            low = np.linalg.eigvalsh(c).min(axis=1)
            if np.any(low <= 0):
                i = int(np.argmin(low))
                raise ValueError(f"covariances must be positive definite, got smallest "
                                 f"eigenvalue {float(low[i])!r} in component {i}")
        self.weights = w / jnp.sum(w)
        self.means = mu
        self.covariances = cov
        self.schedule = schedule

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _components(self, x, t):
        a, s = self.schedule.alpha(t), self.schedule.sigma(t)
        c = a**2 * self.covariances + s**2 * jnp.eye(self.dim)
        chol = jnp.linalg.cholesky(c)
        diff = x - a * self.means
        sol = jax.vmap(lambda l, r: jax.scipy.linalg.cho_solve((l, True), r))(chol, diff)
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)
        log_p = (jnp.log(self.weights) - 0.5 * jnp.sum(diff * sol, axis=1) - 0.5 * log_det
                 - 0.5 * self.dim * jnp.log(2.0 * jnp.pi))
        return log_p, sol

    def log_density(self, x: Array, t: ArrayLike) -> Array:
        """log p_t(x) of the forward marginal (log-sum-exp over the components)."""
        return jax.scipy.special.logsumexp(self._components(x, t)[0])

    def __call__(self, x, t):
        log_p, sol = self._components(x, t)
        return -jax.nn.softmax(log_p) @ sol

    def sample_data(self, key, n: int) -> Array:
        """n draws from the data mixture (t = 0), shape (n, d)."""
        k1, k2 = jax.random.split(key)
        comp = jax.random.choice(k1, self.weights.shape[0], (n,), p=self.weights)
        z = jax.random.normal(k2, (n, self.dim))
        chol = jnp.linalg.cholesky(self.covariances)
        return self.means[comp] + jnp.einsum("nij,nj->ni", chol[comp], z)


def _value_at(p, t):
    return p(t) if callable(p) else p


class AffineScore(AbstractScoreModel):
    r"""An affine score $s(x,t) = -A(t)(x - b(t))$.

    `precision` A(t) and `shift` b(t) are module fields: arrays (constant in t; A as (d,)
    diagonal or (d, d)) or functions of t returning such arrays (e.g. Equinox modules
    with learnable parameters). The exact Gaussian score is the case
    A = (alpha^2 Sigma + sigma^2 I)^{-1}, b = alpha mu. Exact laws apply to it.
    """

    precision: Array | Callable
    shift: Array | Callable

    def __init__(self, precision, shift=0.0):
        self.precision = precision if callable(precision) else jnp.asarray(precision, float)
        self.shift = shift if callable(shift) else jnp.asarray(shift, float)
        if not callable(precision) and self.precision.ndim not in (0, 1, 2):
            raise ValueError(f"precision must be a scalar, a (d,) diagonal or a (d, d) matrix, "
                             f"got shape {self.precision.shape}")

    def __call__(self, x, t):
        a = jnp.asarray(_value_at(self.precision, t))
        centred = x - _value_at(self.shift, t)
        return -(a @ centred if a.ndim == 2 else a * centred)


class MLPScore(AbstractScoreModel):
    r"""A score network: an `eqx.nn.MLP` on the rescaled state $x/\sqrt{\alpha^2+\sigma^2}$
    and a noise-level embedding (sines and cosines of $\log(\sigma/\alpha)$ at geometric
    frequencies), read as a noise prediction (`"epsilon"`: $s = -\hat\varepsilon/\sigma$)
    or a data prediction (`"denoiser"`: $s = (\alpha\hat x_0 - x)/\sigma^2$), or with
    EDM preconditioning (`"edm"`, Karras et al. 2022, Table 1, in the rescaled variable
    $\tilde x = x/\alpha$ of noise level $n = \sigma/\alpha$ and data scale
    $\sigma_d$ = `sigma_data`): $\hat x_0 = c_{skip}\tilde x + c_{out} F$,
    $c_{skip} = \sigma_d^2/(n^2+\sigma_d^2)$, $c_{out} = n\sigma_d/\sqrt{n^2+\sigma_d^2}$,
    then $s = (\alpha\hat x_0 - x)/\sigma^2$. The network input is
    $c_{in}\tilde x = x/\sqrt{\sigma^2 + \alpha^2\sigma_d^2}$ for every parameterisation
    ($x/\sqrt{\alpha^2+\sigma^2}$ at the default $\sigma_d = 1$). Trained by
    `sampling.training.train_score_model`.
    """

    mlp: eqx.nn.MLP
    schedule: AbstractSchedule
    parameterisation: str = eqx.field(static=True)
    n_frequencies: int = eqx.field(static=True)
    sigma_data: float = eqx.field(static=True)

    def __init__(self, dim: int, schedule: AbstractSchedule, key, *, width: int = 64,
                 depth: int = 2, parameterisation: str = "epsilon", n_frequencies: int = 4,
                 sigma_data: float = 1.0):
        if parameterisation not in PARAMETERISATIONS:
            raise ValueError(f"unknown parameterisation {parameterisation!r}; allowed: "
                             f"{', '.join(PARAMETERISATIONS)}")
        if int(dim) < 1 or int(width) < 1 or int(depth) < 0 or int(n_frequencies) < 0:
            raise ValueError(f"dim, width must be >= 1 and depth, n_frequencies >= 0, got "
                             f"dim={dim}, width={width}, depth={depth}, "
                             f"n_frequencies={n_frequencies}")
        if not (np.isfinite(sigma_data) and sigma_data > 0):
            raise ValueError(f"sigma_data must be finite and > 0, got {sigma_data!r}")
        self.schedule = schedule
        self.parameterisation = parameterisation
        self.n_frequencies = int(n_frequencies)
        self.sigma_data = float(sigma_data)
        n_inputs = int(dim) + 1 + 2 * self.n_frequencies
        mlp = eqx.nn.MLP(n_inputs, int(dim), int(width), int(depth), activation=jax.nn.silu,
                         key=key)
        # Equinox draws the first layer's weights from U(+-1/sqrt(fan_in)): the 2 n_frequencies
        # time features would shrink the weights on x and log n by sqrt((d + 1)/fan_in) (0.4
        # for d = 2, n_frequencies = 8), and training then collapses onto the network output
        # F = 0 (the skip connection alone, DSM loss 1: measured on eight Gaussians). So the
        # first layer is drawn as if its fan-in were d + 1 (derived here; no change when
        # n_frequencies = 0).
        first = mlp.layers[0]
        scale = float(np.sqrt(n_inputs / (int(dim) + 1)))
        self.mlp = eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias), mlp,
                               (first.weight * scale, first.bias * scale))

    def embedding(self, t: ArrayLike) -> Array:
        """Features of the log noise level c = log(sigma/alpha): (c, sin(2^j c), cos(2^j c))."""
        c = jnp.log(self.schedule.noise_level(t))
        freqs = 2.0 ** jnp.arange(self.n_frequencies)
        return jnp.concatenate([c[None], jnp.sin(freqs * c), jnp.cos(freqs * c)])

    def __call__(self, x, t):
        a, s = self.schedule.alpha(t), self.schedule.sigma(t)
        sd = self.sigma_data
        out = self.mlp(jnp.concatenate([x / jnp.sqrt(s**2 + (a * sd) ** 2), self.embedding(t)]))
        if self.parameterisation == "epsilon":
            return score_from_epsilon(out, s)
        if self.parameterisation == "edm":
            n2 = (s / a) ** 2
            c_skip = sd**2 / (n2 + sd**2)
            c_out = jnp.sqrt(n2) * sd / jnp.sqrt(n2 + sd**2)
            return score_from_denoiser(c_skip * x / a + c_out * out, x, a, s)
        return score_from_denoiser(out, x, a, s)


PARAMETERISATIONS = ("epsilon", "denoiser", "edm")
