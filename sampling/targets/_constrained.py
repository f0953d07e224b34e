r"""Targets on constrained domains, each with its ground truth (MATH.md section 5).

Every target is an `AbstractPotential` (pi proportional to exp(-f) on an open convex set)
that also knows how to draw exact samples (`sample`), and where the law allows, its exact
moments and 1-D marginal quantiles (`marginal_quantile`, NumPy/SciPy, for W1/W2 in 1-D).
Simplex targets use p = K - 1 free coordinates x_1..x_p, x_K = 1 - sum_i x_i, matching
`EntropySimplex`.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from schedules import is_concrete

from ._potential import AbstractPotential, check_positive_definite


def _special():
    """scipy.special, imported on first use (it costs ~0.3 s of a start that rarely needs it)."""
    import scipy.special

    return scipy.special


def _positive_parameters(name: str, value) -> Array:
    if is_concrete(value):
        arr = np.asarray(value, float)
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be non-empty and finite, got {arr.tolist()}")
        if np.any(arr <= 0):
            i = int(np.argmax(arr.ravel() <= 0))
            raise ValueError(f"{name} must be > 0, got {name}[{i}] = {float(arr.ravel()[i])!r}")
    return jnp.asarray(value, float)


def _simplex_inside(x):
    return jnp.all(x > 0) & (jnp.sum(x) < 1)


class Dirichlet(AbstractPotential):
    r"""Dirichlet(alpha) on the open simplex, in the first p = K - 1 coordinates:
    $f(x) = -\sum_{i \le K} (\alpha_i - 1)\log x_i$, $x_K = 1 - \sum_{i<K} x_i$.
    Marginals: x_i ~ Beta(alpha_i, alpha_0 - alpha_i), alpha_0 = sum alpha."""

    alpha: Array

    def __init__(self, alpha: ArrayLike):
        self.alpha = _positive_parameters("Dirichlet parameters alpha", alpha)
        if self.alpha.ndim != 1 or self.alpha.shape[0] < 2:
            raise ValueError(f"Dirichlet needs a 1-D alpha with at least 2 entries, got shape "
                             f"{self.alpha.shape}")

    @property
    def dim(self) -> int:
        return self.alpha.shape[0] - 1

    def potential(self, x):
        log_last = jnp.log1p(-jnp.sum(x))
        return -jnp.sum((self.alpha[:-1] - 1) * jnp.log(x)) - (self.alpha[-1] - 1) * log_last

    def in_domain(self, x):
        return _simplex_inside(x)

    def sample(self, key: PRNGKeyArray, n: int) -> Array:
        return jr.dirichlet(key, self.alpha, (n,))[:, :-1]

    def mean(self) -> np.ndarray:
        a = np.asarray(self.alpha)
        return (a / a.sum())[:-1]

    def variance(self) -> np.ndarray:
        a = np.asarray(self.alpha)
        a0 = a.sum()
        return (a * (a0 - a) / (a0**2 * (a0 + 1)))[:-1]

    def marginal_quantile(self, u, i: int) -> np.ndarray:
        a = np.asarray(self.alpha)
        return _special().betaincinv(a[i], a.sum() - a[i], np.asarray(u, float))


class BetaProduct(AbstractPotential):
    r"""Independent Beta(a_i, b_i) laws rescaled to the box (l, u)^d:
    $f(x) = -\sum (a_i - 1)\log(x_i - l_i) + (b_i - 1)\log(u_i - x_i)$."""

    a: Array
    b: Array
    lower: Array
    upper: Array

    def __init__(self, a: ArrayLike, b: ArrayLike, lower: ArrayLike = 0.0,
                 upper: ArrayLike = 1.0):
        a = _positive_parameters("Beta parameters a", jnp.atleast_1d(jnp.asarray(a, float)))
        b = _positive_parameters("Beta parameters b", jnp.atleast_1d(jnp.asarray(b, float)))
        a, b = jnp.broadcast_arrays(a, b)
        lo, hi = (jnp.broadcast_to(jnp.asarray(v, float), a.shape) for v in (lower, upper))
        if is_concrete(lo) and is_concrete(hi) and np.any(np.asarray(lo) >= np.asarray(hi)):
            raise ValueError("Beta box needs lower < upper in every coordinate")
        self.a, self.b, self.lower, self.upper = a, b, lo, hi

    @property
    def dim(self) -> int:
        return self.a.shape[0]

    def potential(self, x):
        return -jnp.sum((self.a - 1) * jnp.log(x - self.lower)
                        + (self.b - 1) * jnp.log(self.upper - x))

    def in_domain(self, x):
        return jnp.all((x > self.lower) & (x < self.upper))

    def sample(self, key, n):
        z = jr.beta(key, self.a, self.b, (n, self.dim))
        return self.lower + (self.upper - self.lower) * z

    def mean(self):
        a, b, lo, hi = (np.asarray(v) for v in (self.a, self.b, self.lower, self.upper))
        return lo + (hi - lo) * a / (a + b)

    def variance(self):
        a, b, lo, hi = (np.asarray(v) for v in (self.a, self.b, self.lower, self.upper))
        return (hi - lo) ** 2 * a * b / ((a + b) ** 2 * (a + b + 1))

    def marginal_quantile(self, u, i: int):
        a, b, lo, hi = (np.asarray(v)[i] for v in (self.a, self.b, self.lower, self.upper))
        return lo + (hi - lo) * _special().betaincinv(a, b, np.asarray(u, float))


class UniformBox(AbstractPotential):
    """The uniform law on the open box (l, u)^d: f = 0 inside."""

    lower: Array
    upper: Array

    def __init__(self, lower: ArrayLike, upper: ArrayLike):
        lo, hi = jnp.broadcast_arrays(jnp.atleast_1d(jnp.asarray(lower, float)),
                                      jnp.atleast_1d(jnp.asarray(upper, float)))
        if is_concrete(lo) and is_concrete(hi) and np.any(np.asarray(lo) >= np.asarray(hi)):
            raise ValueError("uniform box needs lower < upper in every coordinate")
        self.lower, self.upper = lo, hi

    @property
    def dim(self) -> int:
        return self.lower.shape[0]

    def potential(self, x):
        return jnp.zeros(()) * jnp.sum(x)

    def in_domain(self, x):
        return jnp.all((x > self.lower) & (x < self.upper))

    def sample(self, key, n):
        return jr.uniform(key, (n, self.dim), minval=self.lower, maxval=self.upper)

    def mean(self):
        return (np.asarray(self.lower) + np.asarray(self.upper)) / 2

    def variance(self):
        return (np.asarray(self.upper) - np.asarray(self.lower)) ** 2 / 12

    def marginal_quantile(self, u, i: int):
        lo, hi = float(self.lower[i]), float(self.upper[i])
        return lo + (hi - lo) * np.asarray(u, float)


class _GaussianInDual(AbstractPotential):
    """A target whose image under a mirror map's gradient is N(dual_mean, dual_cov)."""

    dual_mean: Array
    dual_cov: Array

    def __init__(self, mean: ArrayLike, cov: ArrayLike):
        cov = np.asarray(cov, float) if is_concrete(cov) else cov
        if is_concrete(cov):
            check_positive_definite("dual covariance", cov)
        self.dual_mean = jnp.atleast_1d(jnp.asarray(mean, float))
        cov = jnp.asarray(cov, float)
        self.dual_cov = jnp.diag(cov) if cov.ndim == 1 else jnp.atleast_2d(cov)
        if self.dual_cov.shape != (self.dim, self.dim):
            raise ValueError(f"dual covariance must be ({self.dim}, {self.dim}), got "
                             f"{self.dual_cov.shape}")

    @property
    def dim(self) -> int:
        return self.dual_mean.shape[0]

    def _gaussian_part(self, y):
        r = y - self.dual_mean
        return 0.5 * r @ jnp.linalg.solve(self.dual_cov, r)

    def sample_dual(self, key, n):
        chol = jnp.linalg.cholesky(self.dual_cov)
        return self.dual_mean + jr.normal(key, (n, self.dim)) @ chol.T


class LogisticNormal(_GaussianInDual):
    r"""Logistic-normal law on the open simplex (p coordinates): log(x_i / x_K) ~ N(m, S).
    $f(x) = \tfrac12 (y - m)^T S^{-1}(y - m) + \sum_{i \le K}\log x_i$, y = log(x_{1:p}/x_K);
    the entropic simplex map sends it to N(m, S) exactly."""

    def potential(self, x):
        log_last = jnp.log1p(-jnp.sum(x))
        y = jnp.log(x) - log_last
        return self._gaussian_part(y) + jnp.sum(jnp.log(x)) + log_last

    def in_domain(self, x):
        return _simplex_inside(x)

    def sample(self, key, n):
        y = self.sample_dual(key, n)
        return jax.nn.softmax(jnp.concatenate([y, jnp.zeros((n, 1))], axis=1), axis=1)[:, :-1]


class LogitNormal(_GaussianInDual):
    r"""Logit-normal law on (0, 1)^d: logit(x) ~ N(m, S);
    $f(x) = \tfrac12 (y - m)^T S^{-1} (y - m) + \sum \log x_i + \log(1 - x_i)$, y = logit x.
    The Fermi–Dirac map sends it to N(m, S) exactly."""

    def potential(self, x):
        y = jnp.log(x) - jnp.log1p(-x)
        return self._gaussian_part(y) + jnp.sum(jnp.log(x) + jnp.log1p(-x))

    def in_domain(self, x):
        return jnp.all((x > 0) & (x < 1))

    def sample(self, key, n):
        return jax.nn.sigmoid(self.sample_dual(key, n))

    def marginal_quantile(self, u, i: int):
        m, s = float(self.dual_mean[i]), float(jnp.sqrt(self.dual_cov[i, i]))
        return _special().expit(m + s * _special().ndtri(np.asarray(u, float)))


class LogNormal(_GaussianInDual):
    r"""Log-normal law on (0, inf)^d: log x ~ N(m, S); $f(x) = \tfrac12 (\log x - m)^T S^{-1}
    (\log x - m) + \sum \log x_i$. The orthant entropy map sends it to N(m, S) exactly."""

    def potential(self, x):
        y = jnp.log(x)
        return self._gaussian_part(y) + jnp.sum(y)

    def in_domain(self, x):
        return jnp.all(x > 0) & jnp.all(jnp.isfinite(x))

    def sample(self, key, n):
        return jnp.exp(self.sample_dual(key, n))

    def marginal_quantile(self, u, i: int):
        m, s = float(self.dual_mean[i]), float(jnp.sqrt(self.dual_cov[i, i]))
        return np.exp(m + s * _special().ndtri(np.asarray(u, float)))


CONSTRAINED_TARGETS = (Dirichlet, BetaProduct, UniformBox, LogisticNormal, LogitNormal, LogNormal)
