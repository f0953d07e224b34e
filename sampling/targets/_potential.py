"""Targets of the Langevin family: densities pi proportional to exp(-f) (MATH.md section 5)."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from schedules import is_concrete

from ._gaussian import GaussianLaw


class AbstractPotential(eqx.Module):
    r"""A target $\pi \propto e^{-f}$ on an open convex domain, given by its potential f.

    Called on one point x of shape (d,); batch with jax.vmap. `grad_potential` and
    `hessian_potential` default to autodiff; subclasses override them where a closed form is
    cheaper or more accurate. `in_domain` says whether x lies in the (open) domain; outside
    it the potential is +inf (a Metropolis step rejects such a proposal).
    """

    @abc.abstractmethod
    def potential(self, x: Array) -> Array:
        """f(x), the negative log-density up to a constant."""

    def grad_potential(self, x: Array) -> Array:
        return jax.grad(self.potential)(x)

    def hessian_potential(self, x: Array) -> Array:
        return jax.hessian(self.potential)(x)

    def in_domain(self, x: Array) -> Array:
        return jnp.all(jnp.isfinite(x))


def check_positive_definite(name: str, matrix) -> np.ndarray:
    """A symmetric positive-definite matrix, or (d,) positive diagonal, as float64 NumPy;
    raise ValueError naming the offending eigenvalue otherwise."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim not in (1, 2) or m.size == 0 or (m.ndim == 2 and m.shape[0] != m.shape[1]):
        raise ValueError(f"{name} must be a (d,) diagonal or a (d, d) matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite")
    if m.ndim == 1:
        if np.any(m <= 0):
            i = int(np.argmax(m <= 0))
            raise ValueError(f"{name} must be positive definite, got diagonal entry [{i}] = "
                             f"{float(m[i])!r} <= 0")
        return m
    if not np.allclose(m, m.T, rtol=1e-12, atol=0.0):
        raise ValueError(f"{name} must be symmetric")
    w = np.linalg.eigvalsh(m)
    if w[0] <= 0:
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {w[0]!r}")
    return m


class GaussianPotential(AbstractPotential):
    r"""The Gaussian target $N(\mu, A^{-1})$: $f(x) = (x - \mu)^T A (x - \mu) / 2$.

    `precision` A is a (d, d) symmetric positive-definite matrix or a (d,) positive diagonal.
    """

    precision: Array
    mean: Array

    def __init__(self, precision: ArrayLike, mean: ArrayLike | None = None):
        if is_concrete(precision):
            check_positive_definite("precision A", precision)
        self.precision = jnp.asarray(precision, float)
        d = self.precision.shape[0]
        self.mean = jnp.zeros(d) if mean is None else jnp.asarray(mean, float)
        if self.mean.shape != (d,):
            raise ValueError(f"mean must have shape ({d},), got {self.mean.shape}")

    @classmethod
    def from_covariance_eigenvalues(cls, eigenvalues: ArrayLike) -> "GaussianPotential":
        """The centred target with diagonal covariance diag(eigenvalues): A = diag(1/lambda)."""
        lam = check_positive_definite("covariance eigenvalues", np.asarray(eigenvalues, float))
        if lam.ndim != 1:
            raise ValueError("covariance eigenvalues must be a 1-D array")
        return cls(1.0 / lam)

    @property
    def dim(self) -> int:
        return self.precision.shape[0]

    @property
    def is_diagonal(self) -> bool:
        return self.precision.ndim == 1

    def precision_matrix(self) -> Array:
        return jnp.diag(self.precision) if self.is_diagonal else self.precision

    def _apply(self, v: Array) -> Array:
        return self.precision * v if self.is_diagonal else self.precision @ v

    def potential(self, x):
        r = x - self.mean
        return 0.5 * r @ self._apply(r)

    def grad_potential(self, x):
        return self._apply(x - self.mean)

    def hessian_potential(self, x):
        return self.precision_matrix()

    def law(self) -> GaussianLaw:
        """N(mu, A^-1), diagonal when A is."""
        if self.is_diagonal:
            return GaussianLaw(self.mean, 1.0 / self.precision)
        return GaussianLaw(self.mean, jnp.linalg.inv(self.precision))


class ScoreTarget(AbstractPotential):
    r"""A target known only through a score field $s \approx \nabla\log\pi = -\nabla f$, e.g. a
    learned score at a fixed noise level ([DSM]): `grad_potential` is $-s(x)$.

    `score` maps a point (d,) to (d,). It need not be a gradient field (an SGD-trained
    affine score has a non-symmetric matrix), so there is no potential to evaluate: use it with
    unadjusted kernels (ULA, annealed Langevin); Metropolis-adjusted kernels need f itself.
    """

    score: Callable[[Array], Array]

    def potential(self, x):
        raise TypeError("a ScoreTarget has a score but no potential f; Metropolis-adjusted "
                        "kernels (MALA, MirrorMALA) need f; use an unadjusted kernel")

    def grad_potential(self, x):
        s = self.score(x)
        if s.shape != x.shape:
            raise ValueError(f"the score maps shape {x.shape} to {s.shape}; it must keep the shape")
        return -s
